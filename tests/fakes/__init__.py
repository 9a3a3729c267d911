"""Local servers that speak Google's, Apple's and IPFS's real wire protocols."""
