"""Example third-party plugin: tasks for the workflow toolkit, registered by entry point."""
