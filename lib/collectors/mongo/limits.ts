/** The bounds that keep the collector's memory fixed, whatever the application sends or the deployment holds. */

/** Distinct command names kept; the rest share OTHER_COMMANDS. Drivers send a few dozen names at most. */
export const MAX_COMMAND_NAMES = 50
export const OTHER_COMMANDS = 'other'
export const MAX_SERVERS = 50
/** Waiting check-outs remembered per pool: past this, the oldest are forgotten. */
export const MAX_TRACKED_WAITERS = 10_000
/** Error messages kept in the snapshot: the ping's, serverStatus's and each server's. */
export const MAX_ERROR_LENGTH = 200
