// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A minimal contract wallet for tests: a signature is valid when it is an
/// ECDSA signature of the hash by the wallet's owner (EIP-1271).
contract Eip1271Wallet {
    bytes4 private constant MAGIC = 0x1626ba7e;
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        if (signature.length != 65) {
            return 0xffffffff;
        }
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) {
            v += 27;
        }
        address signer = ecrecover(hash, v, r, s);
        if (signer != address(0) && signer == owner) {
            return MAGIC;
        }
        return 0xffffffff;
    }
}
