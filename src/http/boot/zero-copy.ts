// A response body sent by the kernel straight from the cached file to the
// client socket (sendfile(2) on the native addon's I/O thread), so the event
// loop neither copies the bytes nor makes a syscall per buffer: it writes the
// headers, hands the socket over, and ends the response when the addon
// calls back. Node still owns the connection: keep-alive carries on after.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { constants } from 'node:os';
import type { Socket } from 'node:net';
import { findAddon, optionalAddonCalls } from '../../net/addon.js';

/** The addon's two calls (native/bindtodevice/sendfile.c). */
export interface ZeroCopySend {
  /** Sends `length` bytes of `fileFd` from `offset` to `socketFd`; calls back once with (errno, bytes sent). Returns an id for abortSendFile. */
  sendFile(socketFd: number, fileFd: number, offset: number, length: number, done: (errno: number, sent: number) => void): number;
  abortSendFile(id: number): void;
}

/**
 * The addon's zero-copy calls, or undefined when the addon is not built or
 * predates them (the caller streams through user space then).
 * RACKBOOT_ASSET_SENDFILE=0 forces the streaming path, for comparisons.
 */
export function loadZeroCopySend(path = findAddon()): ZeroCopySend | undefined {
  if (process.env.RACKBOOT_ASSET_SENDFILE === '0') return undefined;
  return optionalAddonCalls<ZeroCopySend>(['sendFile', 'abortSendFile'], path);
}

/** The kernel descriptor of a plain TCP socket, or undefined when the bytes must not bypass Node (TLS, a pipe, no handle). */
export function plainSocketFd(socket: Socket | null): number | undefined {
  if (!socket || (socket as { encrypted?: boolean }).encrypted || socket.destroyed) return undefined;
  const handle = (socket as unknown as { _handle?: { fd?: unknown; constructor?: { name?: string } } })._handle;
  if (handle?.constructor?.name !== 'TCP') return undefined;
  return typeof handle.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

/** Resolves true once everything Node had queued for `res` (the status line and headers) is in the kernel, so our bytes come after them; false if the connection closed first. */
function headersFlushed(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    res.once('close', onClose);
    // An empty write sends the pending head and calls back when the socket has written it.
    res.write('', () => {
      res.off('close', onClose);
      resolve(true);
    });
  });
}

const CLIENT_GONE = new Set([constants.errno.EPIPE, constants.errno.ECONNRESET, constants.errno.ENOTCONN]);

/**
 * Sends bytes `start`..`end` (inclusive) of `path` as the body of `res`
 * (headers set, not yet sent; Content-Length must say end - start + 1), then
 * ends it. Returns false without touching `res` when the socket cannot be
 * handed to the kernel (the caller streams instead). Resolves true when the
 * body went out or the client left; if the file ended before `end` the
 * response is destroyed, never ended short, and the promise rejects.
 */
export async function sendFileZeroCopy(res: ServerResponse, path: string, start: number, end: number, addon: ZeroCopySend): Promise<boolean> {
  const socket = res.socket;
  if (plainSocketFd(socket) === undefined) return false;
  let file: FileHandle | undefined;
  try {
    file = await open(path, 'r');
    // The descriptor is read again: Node may have dropped the handle while the head was written.
    const fd = (await headersFlushed(res)) ? plainSocketFd(socket) : undefined;
    if (fd === undefined) {
      res.destroy();
      return true;
    }
    const { errno, sent } = await new Promise<{ errno: number; sent: number }>((resolve) => {
      const id = addon.sendFile(fd, file!.fd, start, end - start + 1, (errno, sent) => {
        res.off('close', onClose);
        resolve({ errno, sent });
      });
      // The connection closed under us (client reset, server stopping): the addon holds its own dup of the socket, so tell it.
      const onClose = () => addon.abortSendFile(id);
      res.once('close', onClose);
    });
    if (errno === 0) {
      res.end();
      return true;
    }
    res.destroy();
    if (errno === constants.errno.ENODATA) throw new Error(`${path} ended at byte ${start + sent}, before ${end + 1}`);
    if (CLIENT_GONE.has(errno)) return true;
    throw new Error(`sendfile of ${path} failed after ${sent} bytes: errno ${errno}`);
  } catch (err) {
    res.destroy();
    throw err;
  } finally {
    await file?.close();
  }
}
