// The demo's file status, in the tool bar next to the problems count: "saved", "saving…",
// "changed outside, merged", "deleted outside" or "write failed: <reason>" (the session's last
// `file-state`), with what it means in the tooltip. Hidden until the gateway first says where the
// file stands (a gateway without `--files` never does). Apart from main.ts, which loads Monaco,
// so a unit test can drive it with a stand-in element.
import { fileStateDetail, fileStateText, type FileState } from '../src/files.js';

/** The part of an element the status writes (an `HTMLElement` has it). */
export interface StatusElement {
  textContent: string | null;
  title: string;
  hidden: boolean;
  dataset: Record<string, string | undefined>;
}

/** Shows `file` in `element` (`data-state` picks the colour); null hides it. */
export function showFileState(element: StatusElement, file: FileState | null): void {
  element.dataset.state = file?.state ?? 'none';
  element.textContent = fileStateText(file);
  element.title = fileStateDetail(file);
  element.hidden = file === null;
}
