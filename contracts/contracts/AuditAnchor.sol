// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title AuditAnchor
/// @notice Holds the Merkle roots of LightDom's audit checkpoints. Each checkpoint covers
/// the next contiguous range of log positions, so the contract's list is the log's
/// history cut into ranges with no gap and no overlap. Only an anchorer (granted by the
/// owner) may add one; nothing can change or remove a checkpoint once added.
/// @dev The tree behind each root is documented in docs/audit.md (leaf = sha256(0x00 ||
/// commit hash), node = sha256(0x01 || left || right), an odd node is carried up as is).
contract AuditAnchor {
    /// One anchored range. Fits in two storage slots.
    struct Checkpoint {
        uint64 fromPosition;
        uint64 toPosition;
        uint64 blockNumber;
        uint64 timestamp;
        bytes32 merkleRoot;
    }

    address public owner;
    /// The first position the next checkpoint must start at.
    uint64 public nextPosition;
    mapping(address => bool) public isAnchorer;
    Checkpoint[] private checkpoints;

    event Anchored(
        uint256 indexed index,
        uint64 indexed fromPosition,
        uint64 toPosition,
        bytes32 merkleRoot,
        address indexed anchorer
    );
    event AnchorerGranted(address indexed account);
    event AnchorerRevoked(address indexed account);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner(address caller);
    error NotAnchorer(address caller);
    error ZeroAddress();
    error InvalidFirstPosition();
    error NotNextRange(uint64 expectedFrom, uint64 fromPosition);
    error EmptyRange(uint64 fromPosition, uint64 toPosition);
    error ZeroRoot();
    error NoSuchCheckpoint(uint256 index);
    error NotCovered(uint64 position);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @param firstPosition the position the first checkpoint starts at (1 for a new log).
    constructor(uint64 firstPosition) {
        if (firstPosition == 0) revert InvalidFirstPosition();
        owner = msg.sender;
        nextPosition = firstPosition;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    function grantAnchorer(address account) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        if (!isAnchorer[account]) {
            isAnchorer[account] = true;
            emit AnchorerGranted(account);
        }
    }

    function revokeAnchorer(address account) external onlyOwner {
        if (isAnchorer[account]) {
            isAnchorer[account] = false;
            emit AnchorerRevoked(account);
        }
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Anchors the root of positions fromPosition..toPosition (inclusive), which
    /// must start right after the previous checkpoint.
    /// @return index the new checkpoint's index (0 for the first).
    function anchor(uint64 fromPosition, uint64 toPosition, bytes32 merkleRoot) external returns (uint256 index) {
        if (!isAnchorer[msg.sender]) revert NotAnchorer(msg.sender);
        if (fromPosition != nextPosition) revert NotNextRange(nextPosition, fromPosition);
        if (toPosition < fromPosition) revert EmptyRange(fromPosition, toPosition);
        if (merkleRoot == bytes32(0)) revert ZeroRoot();
        index = checkpoints.length;
        checkpoints.push(
            Checkpoint({
                fromPosition: fromPosition,
                toPosition: toPosition,
                blockNumber: uint64(block.number),
                timestamp: uint64(block.timestamp),
                merkleRoot: merkleRoot
            })
        );
        nextPosition = toPosition + 1;
        emit Anchored(index, fromPosition, toPosition, merkleRoot, msg.sender);
    }

    function checkpointCount() external view returns (uint256) {
        return checkpoints.length;
    }

    /// @notice One checkpoint by its index.
    function checkpoint(uint256 index) external view returns (Checkpoint memory) {
        if (index >= checkpoints.length) revert NoSuchCheckpoint(index);
        return checkpoints[index];
    }

    /// @notice The most recent checkpoint and how many there are; count 0 and an empty
    /// checkpoint when none was anchored yet.
    function latest() external view returns (uint256 count, Checkpoint memory last) {
        count = checkpoints.length;
        if (count > 0) last = checkpoints[count - 1];
    }

    /// @notice The checkpoint whose range holds `position` (binary search).
    function checkpointCovering(uint64 position) external view returns (uint256 index, Checkpoint memory found) {
        uint256 lo = 0;
        uint256 hi = checkpoints.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            Checkpoint storage c = checkpoints[mid];
            if (position < c.fromPosition) hi = mid;
            else if (position > c.toPosition) lo = mid + 1;
            else return (mid, c);
        }
        revert NotCovered(position);
    }
}
