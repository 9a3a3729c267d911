// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./RawLog.sol";

/// An emitter with the event signatures of the EPNS Communicator. Like the
/// public contract it emits Subscribe/Unsubscribe only on a real change,
/// AddDelegate and RemoveDelegate on every call; unlike it, it lets any
/// sender emit SendNotification for any channel (tests decide who may).
contract EpnsComm {
    event SendNotification(address indexed channel, address indexed recipient, bytes identity);
    event Subscribe(address indexed channel, address indexed user);
    event Unsubscribe(address indexed channel, address indexed user);
    event PublicKeyRegistered(address indexed owner, bytes publickey);
    event AddDelegate(address channel, address delegate);
    event RemoveDelegate(address channel, address delegate);
    event UserNotifcationSettingsAdded(address _channel, address _user, uint256 _notifID, string _notifSettings);
    event ChannelAlias(string _chainName, uint256 indexed _chainID, address indexed _channelOwnerAddress, string _ethereumChannelAddress);
    event RemoveChannelAlias(string _chainName, uint256 indexed _chainID, address indexed _channelOwnerAddress, string _baseChannelAddress);

    mapping(address => mapping(address => bool)) public subscribed;

    function subscribe(address channel, address user) public {
        if (subscribed[channel][user]) return;
        subscribed[channel][user] = true;
        emit Subscribe(channel, user);
    }

    function unsubscribe(address channel, address user) public {
        if (!subscribed[channel][user]) return;
        subscribed[channel][user] = false;
        emit Unsubscribe(channel, user);
    }

    /// Called by Core while it creates or destroys a channel.
    function subscribeFor(address channel, address user) external {
        subscribe(channel, user);
    }

    function unsubscribeFor(address channel, address user) external {
        unsubscribe(channel, user);
    }

    function addDelegate(address channel, address delegate) external {
        emit AddDelegate(channel, delegate);
    }

    function removeDelegate(address channel, address delegate) external {
        emit RemoveDelegate(channel, delegate);
    }

    function registerPublicKey(address owner, bytes calldata key) external {
        emit PublicKeyRegistered(owner, key);
    }

    function sendNotification(address channel, address recipient, bytes calldata identity) external {
        emit SendNotification(channel, recipient, identity);
    }

    /// Many notifications in one transaction, each its own log.
    function sendNotifications(
        address[] calldata channels, address[] calldata recipients, bytes[] calldata identities
    ) external {
        require(channels.length == recipients.length && channels.length == identities.length, "lengths");
        for (uint256 i = 0; i < channels.length; i++) {
            emit SendNotification(channels[i], recipients[i], identities[i]);
        }
    }

    /// The same notification `count` times: cheap backfills for benchmarks.
    function sendNotificationRepeated(
        address channel, address recipient, bytes calldata identity, uint256 count
    ) external {
        for (uint256 i = 0; i < count; i++) {
            emit SendNotification(channel, recipient, identity);
        }
    }

    function setUserSettings(address channel, address user, uint256 notifId, string calldata settings) external {
        emit UserNotifcationSettingsAdded(channel, user, notifId, settings);
    }

    function addChannelAlias(string calldata chainName, uint256 chainId, address owner, string calldata ethChannel) external {
        emit ChannelAlias(chainName, chainId, owner, ethChannel);
    }

    function removeChannelAlias(string calldata chainName, uint256 chainId, address owner, string calldata baseChannel) external {
        emit RemoveChannelAlias(chainName, chainId, owner, baseChannel);
    }

    /// Any raw log (used by tests to emit forms no function covers).
    function emitRaw(bytes32[] calldata topics, bytes calldata data) external {
        RawLog.emitRaw(topics, data);
    }
}
