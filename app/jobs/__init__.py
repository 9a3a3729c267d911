"""Dispatch: RQ jobs that turn a Notification row into pushes, and the senders."""
