"""What each service is, for either target, as plain data: no resources here."""
