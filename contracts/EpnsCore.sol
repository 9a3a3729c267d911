// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./RawLog.sol";

/// An emitter with the event signatures of the EPNS Core contract (every
/// generation: the 2020 alpha, V1 and the bytes32 "universal" forms), so
/// its logs carry the same topic0 as mainnet. It enforces no EPNS rules.
interface ICommFromCore {
    function subscribeFor(address channel, address user) external;
    function unsubscribeFor(address channel, address user) external;
}

contract EpnsCore {
    // Current (V1) forms.
    event AddChannel(address indexed channel, uint8 indexed channelType, bytes identity);
    event UpdateChannel(address indexed channel, bytes identity, uint256 indexed amountDeposited);
    event DeactivateChannel(address indexed channel, uint256 indexed amountRefunded);
    event ReactivateChannel(address indexed channel, uint256 indexed amountDeposited);
    event ChannelBlocked(address indexed channel);
    event ChannelVerified(address indexed channel, address indexed verifier);
    event ChannelVerificationRevoked(address indexed channel, address indexed revoker);
    event TimeBoundChannelDestroyed(address indexed channel, uint256 indexed amountRefunded);
    event ChannelOwnershipTransfer(address indexed channel, address indexed newOwner);
    event ChannelNotifcationSettingsAdded(address _channel, uint256 totalNotifOptions, string _notifSettings, string _notifDescription);
    event AddSubGraph(address indexed channel, bytes _subGraphData);

    // 2020 alpha and older forms.
    event AddChannel(address indexed channel, bytes identity);
    event UpdateChannel(address indexed channel, bytes identity);
    event DeactivateChannel(address indexed channel);

    // bytes32 channel forms.
    event ChannelCreated(bytes32 indexed channel, uint8 indexed channelType, bytes identity);
    event AddChannel(bytes32 indexed channel, uint8 indexed channelType, bytes identity);
    event UpdateChannel(bytes32 indexed channel, bytes identity, uint256 indexed amountDeposited);
    event ChannelStateUpdate(bytes32 indexed channel, uint256 amountRefunded, uint256 amountDeposited);
    event ChannelBlocked(bytes32 indexed channel);
    event ChannelVerified(bytes32 indexed channel, bytes32 indexed verifier);
    event ChannelVerificationRevoked(bytes32 indexed channel, bytes32 indexed revoker);
    event ChannelNotifcationSettingsAdded(bytes32 _channel, uint256 totalNotifOptions, string _notifSettings, string _notifDescription);
    event AddSubGraph(bytes32 indexed channel, bytes _subGraphData);

    ICommFromCore public comm;
    address public admin;

    constructor(address comm_, address admin_) {
        comm = ICommFromCore(comm_);
        admin = admin_;
    }

    /// Channel creation as the public Core does it: AddChannel, then the
    /// Subscribe logs from Comm (channel to itself, 0x0 to the channel,
    /// the admin to the channel), each only if it is new.
    function addChannel(address channel, uint8 channelType, bytes calldata identity) external {
        emit AddChannel(channel, channelType, identity);
        comm.subscribeFor(channel, channel);
        comm.subscribeFor(address(0), channel);
        comm.subscribeFor(channel, admin);
    }

    function addChannelAlpha(address channel, bytes calldata identity) external {
        emit AddChannel(channel, identity);
        comm.subscribeFor(channel, channel);
    }

    function updateChannel(address channel, bytes calldata identity, uint256 amount) external {
        emit UpdateChannel(channel, identity, amount);
    }

    function updateChannelAlpha(address channel, bytes calldata identity) external {
        emit UpdateChannel(channel, identity);
    }

    function deactivateChannel(address channel, uint256 refunded) external {
        emit DeactivateChannel(channel, refunded);
    }

    function deactivateChannelAlpha(address channel) external {
        emit DeactivateChannel(channel);
    }

    function reactivateChannel(address channel, uint256 deposited) external {
        emit ReactivateChannel(channel, deposited);
    }

    function blockChannel(address channel) external {
        emit ChannelBlocked(channel);
    }

    function verifyChannel(address channel, address verifier) external {
        emit ChannelVerified(channel, verifier);
    }

    function unverifyChannel(address channel, address revoker) external {
        emit ChannelVerificationRevoked(channel, revoker);
    }

    /// Destroying a time-bound channel: three Unsubscribe logs from Comm,
    /// then TimeBoundChannelDestroyed.
    function destroyTimeBoundChannel(address channel, uint256 refunded) external {
        comm.unsubscribeFor(channel, channel);
        comm.unsubscribeFor(address(0), channel);
        comm.unsubscribeFor(channel, admin);
        emit TimeBoundChannelDestroyed(channel, refunded);
    }

    function addSubGraph(address channel, bytes calldata data) external {
        emit AddSubGraph(channel, data);
    }

    function addChannelSettings(
        address channel, uint256 options, string calldata settings, string calldata description
    ) external {
        emit ChannelNotifcationSettingsAdded(channel, options, settings, description);
    }

    /// Any other form (bytes32 channels, ownership transfer): the caller
    /// supplies topics and data, for tests of decoding.
    function emitRaw(bytes32[] calldata topics, bytes calldata data) external {
        RawLog.emitRaw(topics, data);
    }
}
