/**
 * File state (`?ext=files`): where the file stands with its durable copy, the file in the
 * sandbox (or the gateway's `--files-dir`), and the words a status bar shows for it.
 *
 * The gateway keeps the live document and the file in step both ways: it writes edits back when
 * they settle, and merges changes made outside (a formatter, `git checkout`) into the document.
 * A connection that opted in with `?ext=files` hears each step as a `file-state` message
 * (`FileStateExtension` in `extension.ts`); a session keeps the last one with the time it arrived
 * ({@link FileState}) and emits it as its `file-state` event. The gateway sends the current one
 * on join (once the file's state is known: after its first check or write) and each change, on
 * whichever gateway the write or merge happened; after a reconnection a session keeps the last
 * one it heard until the next arrives.
 *
 * This module decodes nothing (`extension.ts` does) and touches no editor.
 */
import type { Extension, FileSyncState } from './extension.js';

/** The last `file-state` the gateway sent, and when it arrived. */
export interface FileState {
  state: FileSyncState;
  /** The version written (`saved`) or merged (`merged`), as the gateway names it. */
  etag?: string;
  /** Why a write failed (`failed`), in the gateway's words. */
  reason?: string;
  /** When the message arrived (`Date.now()`, ms). */
  at: number;
}

/** The {@link FileState} a message brings: null for any message but a `file-state`. */
export function fileStateOf(message: Extension, now: number = Date.now()): FileState | null {
  if (message.type !== 'file-state') return null;
  const { state, etag, reason } = message;
  return { state, ...(etag !== undefined ? { etag } : {}), ...(reason !== undefined ? { reason } : {}), at: now };
}

/**
 * The status-bar text of a file state: `saved`, `saving…`, `changed outside, merged`, `deleted
 * outside`, `write failed: <reason>` (`write failed` without one); empty before the first one.
 */
export function fileStateText(file: Pick<FileState, 'state' | 'reason'> | null): string {
  if (!file) return '';
  switch (file.state) {
    case 'saved':
      return 'saved';
    case 'saving':
      return 'saving…';
    case 'merged':
      return 'changed outside, merged';
    case 'deleted':
      return 'deleted outside';
    case 'failed':
      return file.reason ? `write failed: ${file.reason}` : 'write failed';
  }
}

/** The first 8 characters of an ETag, without the quotes HTTP puts around it. */
export function shortEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '').slice(0, 8);
}

/**
 * A sentence for a tooltip: what the state means for the user, with the version when there is
 * one; empty before the first state.
 */
export function fileStateDetail(file: Pick<FileState, 'state' | 'etag' | 'reason'> | null): string {
  if (!file) return '';
  const version = file.etag ? ` (version ${shortEtag(file.etag)})` : '';
  switch (file.state) {
    case 'saved':
      return `The file has the text shown here${version}.`;
    case 'saving':
      return 'Writing the text shown here to the file…';
    case 'merged':
      return `The file was changed outside the editor${version}; the change is merged into the text, and typing is kept.`;
    case 'deleted':
      return 'The file was deleted outside the editor; the next edit writes it again.';
    case 'failed':
      return `Writing the file failed${file.reason ? `: ${file.reason}` : ''}. The gateway tries again; your text is kept.`;
  }
}
