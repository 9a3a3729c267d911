"""The chain poller: reads EPNS logs into the database and hands off jobs."""
