// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Emits a log with any topics and data, so tests can produce event forms
/// (old signatures, odd encodings) that no function of the emitters covers.
library RawLog {
    function emitRaw(bytes32[] calldata topics, bytes calldata data) internal {
        bytes memory payload = data;
        uint256 n = topics.length;
        require(n >= 1 && n <= 4, "1 to 4 topics");
        bytes32 t0 = topics[0];
        bytes32 t1 = n > 1 ? topics[1] : bytes32(0);
        bytes32 t2 = n > 2 ? topics[2] : bytes32(0);
        bytes32 t3 = n > 3 ? topics[3] : bytes32(0);
        assembly {
            let p := add(payload, 32)
            let len := mload(payload)
            switch n
            case 1 { log1(p, len, t0) }
            case 2 { log2(p, len, t0, t1) }
            case 3 { log3(p, len, t0, t1, t2) }
            default { log4(p, len, t0, t1, t2, t3) }
        }
    }
}
