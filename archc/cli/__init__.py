"""The command line (typer + rich live only here and in archc.report)."""
