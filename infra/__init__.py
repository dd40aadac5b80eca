"""ora-infra: the Pulumi program that provisions Ora's environment on one Docker host."""
