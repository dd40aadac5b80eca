"""The deployment targets: each turns the service specs into its resources."""
