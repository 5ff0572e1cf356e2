import { STATUS_CODES } from 'node:http'
import type { FastifyReply } from 'fastify'
import type { CodedError } from './errors.js'

/**
 * The one way a route or hook of the plugin refuses a request: the body is read from the coded error, and it is
 * sent here rather than thrown to the app's error handler, since a refusal is expected and carries its own headers.
 * Internal: lib/errors.ts, which the package re-exports, holds the errors only.
 */
export function sendRefusal (reply: FastifyReply, error: CodedError): FastifyReply {
  const statusCode = error.statusCode ?? 500
  return reply.code(statusCode).header('cache-control', 'no-store').send({
    statusCode,
    code: error.code,
    error: STATUS_CODES[statusCode],
    message: error.message
  })
}
