"""Local stand-ins for the outside world, for development, demos and tests.

The embedded Valkey server, a local anvil chain with our EPNS-compatible
contract, and the launcher that runs the whole system on one machine.
Nothing here is imported by the server itself.
"""
