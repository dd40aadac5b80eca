"""The operators' commands (the make targets): the top floor."""
