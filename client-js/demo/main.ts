// The demo page: a file picker, a name, the editor, the people present, a connection banner, and
// undo / redo buttons with the counts (disabled at zero; they do what Ctrl+Z / Ctrl+Shift+Z do:
// on the gateway when it offers server-side undo, else this tab's own undo manager), and the
// gateway's diagnostics: its markers in the editor (squiggles) and their count in the tool bar,
// and beside it where the file stands with its copy on disk or in the sandbox (`?ext=files`:
// saved, saving…, changed outside, merged, deleted outside, write failed; `file-status.ts`).
//
// When the page is served with a `demo-users.json` beside it (scripts/demo seeds the demo's people
// through the gateway's admin API and writes it), it offers "join as Ann / Bob / Vic (read-only)":
// each button opens the demo file with that person's session token (and, for a viewer, read-only).
// `?as=ann` joins as that person at once (the page puts it in the URL, never the token).
//
// Query parameters fill the form and open the file at once: `?file=a.ts&name=Ada&color=%23d1495b`,
// plus `gateways=ws://h1:p1,ws://h2:p2` (default: the gateway that served this page),
// `token=...`, `readonly=1` and `user=ann` (the user id of a gateway with `--auth none`, which keeps
// each user's undo history by it; with tokens the gateway knows the user). Tests drive the page through `window.__collab` (ESM builds of
// Monaco define no `window.monaco`); `__collab.markers()` reads the model's markers.
import * as monaco from 'monaco-editor/editor';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
// The right-click menu, where the session adds Undo and Redo (they go where Ctrl+Z goes).
import 'monaco-editor/features/contextmenu/register';
import 'monaco-editor/languages/definitions/typescript/register';
import 'monaco-editor/languages/definitions/javascript/register';
import 'monaco-editor/languages/definitions/python/register';
import 'monaco-editor/languages/definitions/rust/register';
import 'monaco-editor/languages/definitions/markdown/register';
import {
  NO_DIAGNOSTICS,
  NO_UNDO,
  connect,
  type CollabSession,
  type ConnectionStatus,
  type DiagnosticCounts,
  type FileState,
  type Presence,
  type UndoState,
} from '../src/index.js';
import { showFileState } from './file-status.js';
import './style.css';

declare global {
  interface Window {
    MonacoEnvironment?: monaco.Environment;
    __collab: CollabHook;
  }
}

/** What tests (and curious people in the console) can reach. */
interface CollabHook {
  monaco: typeof monaco;
  editor: monaco.editor.IStandaloneCodeEditor;
  session: CollabSession | null;
  /** Every status this page went through, oldest first. */
  statuses: ConnectionStatus[];
  presence: Presence[];
  /** What the undo and redo buttons show (every `undo-state` of the session, last one here). */
  undo: UndoState;
  /** Every `undo-state` this page saw since the file was opened, oldest first. */
  undoStates: UndoState[];
  /** What the problems count shows (the session's last `diagnostics` event). */
  diagnostics: DiagnosticCounts;
  /** What the file status shows (the session's last `file-state`; null before the first). */
  fileState: FileState | null;
  /** Every `file-state` this page saw since the file was opened, oldest first. */
  fileStates: FileState[];
  /** The markers on the editor's model, every owner (ours are `collab:<source>`). */
  markers(): ShownMarker[];
  /** The people of `demo-users.json`, once loaded (empty without one). */
  demoUsers: DemoUser[];
  open(options: OpenOptions): void;
  /** Opens the demo file as one of `demoUsers` (by id); false if there is no such person. */
  joinAs(id: string): boolean;
  leave(): void;
  text(): string;
}

/** A marker as the test hook returns it: Monaco's `IMarker` without the model's URI. */
interface ShownMarker {
  owner: string;
  severity: number;
  message: string;
  source?: string;
  startLineNumber: number;
  startColumn: number;
  endLineNumber: number;
  endColumn: number;
}

/** One person of `demo-users.json`. */
interface DemoUser {
  id: string;
  name: string;
  color: string;
  role: 'rw' | 'ro';
  token: string;
}

interface DemoUsers {
  sandbox: string;
  file: string;
  users: DemoUser[];
}

interface OpenOptions {
  file: string;
  name: string;
  color?: string;
  gateways?: string[];
  token?: string;
  readOnly?: boolean;
  /** The user id for a gateway with `--auth none` (`?user=`). */
  user?: string;
  /** The demo person joined as (put in the URL as `?as=`). */
  as?: string;
}

window.MonacoEnvironment = { getWorker: () => new EditorWorker() };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('join');
const fileInput = $<HTMLInputElement>('file');
const nameInput = $<HTMLInputElement>('name');
const colorInput = $<HTMLInputElement>('color');
const readOnlyInput = $<HTMLInputElement>('readonly');
const leaveButton = $<HTMLButtonElement>('leave');
const banner = $<HTMLDivElement>('banner');
const demoNav = $<HTMLElement>('demo-users');
const demoButtons = $<HTMLSpanElement>('demo-buttons');
const demoFile = $<HTMLElement>('demo-file');
const presenceList = $<HTMLUListElement>('presence');
const tools = $<HTMLDivElement>('tools');
const undoButton = $<HTMLButtonElement>('undo');
const redoButton = $<HTMLButtonElement>('redo');
const undoCount = $<HTMLSpanElement>('undo-count');
const redoCount = $<HTMLSpanElement>('redo-count');
const undoMode = $<HTMLSpanElement>('undo-mode');
const problems = $<HTMLSpanElement>('problems');
const fileStatus = $<HTMLSpanElement>('file-state');

const editor = monaco.editor.create($('editor'), {
  value: '',
  language: 'plaintext',
  automaticLayout: true,
  minimap: { enabled: false },
  fontSize: 14,
  scrollBeyondLastLine: false,
  renderWhitespace: 'selection',
});

const hook: CollabHook = {
  monaco,
  editor,
  session: null,
  statuses: [],
  presence: [],
  undo: NO_UNDO,
  undoStates: [],
  diagnostics: NO_DIAGNOSTICS,
  fileState: null,
  fileStates: [],
  markers,
  demoUsers: [],
  open,
  joinAs,
  leave,
  text: () => editor.getModel()?.getValue() ?? '',
};
window.__collab = hook;

const params = new URLSearchParams(location.search);
fileInput.value = params.get('file') ?? '';
nameInput.value = params.get('name') ?? localStorage.getItem('collab.name') ?? '';
colorInput.value = params.get('color') ?? localStorage.getItem('collab.color') ?? randomColor();
readOnlyInput.checked = params.get('readonly') === '1';
const gateways = (params.get('gateways') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const token = params.get('token') ?? undefined;
const user = params.get('user') ?? undefined;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  open({
    file: fileInput.value.trim(),
    name: nameInput.value.trim(),
    color: colorInput.value,
    gateways,
    token,
    user,
    readOnly: readOnlyInput.checked,
  });
});
leaveButton.addEventListener('click', leave);
// The buttons keep the editor's focus, so typing goes on where it was.
undoButton.addEventListener('mousedown', (event) => event.preventDefault());
redoButton.addEventListener('mousedown', (event) => event.preventDefault());
undoButton.addEventListener('click', () => hook.session?.undo());
redoButton.addEventListener('click', () => hook.session?.redo());

let demo: DemoUsers | null = null;
const joinAsParam = params.get('as');
if (joinAsParam) {
  // Wait for the people file; without it (or without that person) fall back to the form.
  void loadDemoUsers().then(() => {
    if (!joinAs(joinAsParam) && fileInput.value && nameInput.value) form.requestSubmit();
  });
} else {
  if (fileInput.value && nameInput.value) form.requestSubmit();
  void loadDemoUsers();
}

/** Fetches `demo-users.json` (next to the page) and shows a "join as" button per person. */
async function loadDemoUsers(): Promise<void> {
  try {
    const response = await fetch('demo-users.json', { cache: 'no-store' });
    if (!response.ok) return;
    const loaded = (await response.json()) as DemoUsers;
    if (!loaded || typeof loaded.file !== 'string' || !Array.isArray(loaded.users)) return;
    demo = loaded;
  } catch {
    return; // no demo people: the form alone
  }
  hook.demoUsers = demo.users;
  demoFile.textContent = demo.file;
  demoButtons.replaceChildren(
    ...demo.users.map((user) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.user = user.id;
      const dot = document.createElement('span');
      dot.className = 'dot';
      dot.style.background = user.color;
      button.append(dot, user.role === 'ro' ? `${user.name} (read-only)` : user.name);
      button.addEventListener('click', () => joinAs(user.id));
      return button;
    }),
  );
  demoNav.hidden = false;
  if (!fileInput.value) fileInput.value = demo.file;
}

function joinAs(id: string): boolean {
  const user = demo?.users.find((u) => u.id === id);
  if (!demo || !user) return false;
  fileInput.value = demo.file;
  nameInput.value = user.name;
  colorInput.value = user.color;
  readOnlyInput.checked = user.role === 'ro';
  open({ file: demo.file, name: user.name, color: user.color, gateways, token: user.token, readOnly: user.role === 'ro', as: user.id });
  return true;
}

function open(options: OpenOptions): void {
  leave();
  hook.statuses = [];
  localStorage.setItem('collab.name', options.name);
  if (options.color) localStorage.setItem('collab.color', options.color);
  const model = editor.getModel();
  if (model) monaco.editor.setModelLanguage(model, languageOf(options.file));
  const session = connect({
    monaco,
    editor,
    url: options.gateways && options.gateways.length > 0 ? options.gateways : sameOriginGateway(),
    fileId: options.file,
    token: options.token,
    user: options.user,
    name: options.name,
    color: options.color,
    readOnly: options.readOnly,
    diagnostics: true,
    files: true, // with undo (writers): ?ext=undo,diagnostics,files
  });
  hook.session = session;
  hook.undoStates = [];
  hook.fileStates = [];
  session.on('status', showStatus);
  session.on('presence', showPresence);
  session.on('undo-state', showUndo);
  session.on('diagnostics', showProblems);
  session.on('file-state', showFile);
  session.on('extension', (message) => console.info('collab extension message', message));
  showStatus(session.status);
  showPresence(session.presence);
  showUndo(session.undoState);
  showProblems(session.diagnostics);
  showFile(session.fileState);
  leaveButton.disabled = false;
  const url = new URL(location.href);
  url.searchParams.set('file', options.file);
  if (options.as) {
    url.searchParams.set('as', options.as);
    url.searchParams.delete('name');
  } else {
    url.searchParams.set('name', options.name);
    url.searchParams.delete('as');
  }
  history.replaceState(null, '', url);
  document.title = `${options.file} · collab`;
  editor.focus();
}

function leave(): void {
  const session = hook.session;
  if (!session) return;
  hook.session = null;
  session.disconnect();
  leaveButton.disabled = true;
  showPresence([]);
  showUndo(NO_UNDO);
  showProblems(NO_DIAGNOSTICS);
  showFile(null);
  banner.dataset.state = 'idle';
  delete banner.dataset.readOnly;
  banner.textContent = 'Left the file. Pick a file and a name, then Open.';
}

function showStatus(status: ConnectionStatus): void {
  hook.statuses.push(status);
  banner.dataset.state = status.state;
  banner.dataset.readOnly = String(status.readOnly);
  const where = status.url.replace(/^wss?:\/\//, '').replace(/\/doc$/, '');
  const why = status.message ? `${status.message} ` : '';
  const detail = status.detail ? `Gateway: ${status.detail}${/[.!?]$/.test(status.detail) ? '' : '.'} ` : '';
  const texts: Record<ConnectionStatus['state'], string> = {
    connecting: `Connecting to ${where}…`,
    connected: `Connected to ${where}, syncing…`,
    synced: status.readOnly
      ? `Connected to ${where}. Read-only: you see everyone's edits live, but cannot edit this file.`
      : `Connected to ${where}. All changes are shared.`,
    reconnecting: status.readOnly
      ? `${why}Reconnecting (${where})…`
      : `${why}Reconnecting (${where})… your edits are kept and will be sent.`,
    offline: status.readOnly
      ? 'You are offline. The file updates again when the network is back.'
      : 'You are offline. Your edits are kept and will be sent when the network is back.',
    closed: `Closed: ${why}${detail}${status.code ? `(${status.code}${status.reason ? ` ${status.reason}` : ''})` : ''}`,
  };
  if (status.readOnly && status.state !== 'closed') {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'read-only';
    banner.replaceChildren(badge, ` ${texts[status.state]}`);
  } else {
    banner.textContent = texts[status.state];
  }
  if (status.state === 'closed' && hook.session && status.code !== 1000) leaveButton.disabled = true;
}

function showUndo(state: UndoState): void {
  hook.undo = state;
  hook.undoStates.push(state);
  tools.dataset.mode = state.mode;
  undoCount.textContent = String(state.undo);
  redoCount.textContent = String(state.redo);
  undoButton.disabled = !state.ready || state.undo === 0;
  redoButton.disabled = !state.ready || state.redo === 0;
  const modes: Record<UndoState['mode'], string> = {
    server: state.ready ? 'Undo history kept by the gateway (survives reloads).' : 'Undo waits for the gateway…',
    local: 'Undo history of this tab only (the gateway keeps none).',
    none: '',
  };
  undoMode.textContent = modes[state.mode];
}

/** The problems count: errors and warnings of every source, each source's in the tooltip. */
function showProblems(counts: DiagnosticCounts): void {
  hook.diagnostics = counts;
  problems.dataset.errors = String(counts.errors);
  problems.dataset.warnings = String(counts.warnings);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  problems.textContent = counts.errors + counts.warnings === 0 ? 'No problems' : `${plural(counts.errors, 'error')}, ${plural(counts.warnings, 'warning')}`;
  const sources = Object.entries(counts.bySource).map(([source, c]) => `${source}: ${plural(c.errors, 'error')}, ${plural(c.warnings, 'warning')}`);
  problems.title = sources.length > 0 ? sources.join('\n') : 'Diagnostics from the gateway (syntax, language servers)';
}

/** The file status beside the problems count (hidden until the gateway first says). */
function showFile(file: FileState | null): void {
  hook.fileState = file;
  if (file) hook.fileStates.push(file);
  showFileState(fileStatus, file);
}

function markers(): ShownMarker[] {
  const model = editor.getModel();
  if (!model) return [];
  return monaco.editor.getModelMarkers({ resource: model.uri }).map((m) => ({
    owner: m.owner,
    severity: m.severity,
    message: m.message,
    ...(m.source !== undefined ? { source: m.source } : {}),
    startLineNumber: m.startLineNumber,
    startColumn: m.startColumn,
    endLineNumber: m.endLineNumber,
    endColumn: m.endColumn,
  }));
}

function showPresence(people: Presence[]): void {
  hook.presence = people;
  presenceList.replaceChildren(
    ...people.map((person) => {
      const item = document.createElement('li');
      item.dataset.clientId = String(person.clientId);
      const dot = document.createElement('span');
      dot.className = 'dot';
      dot.style.background = person.color;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = person.self ? `${person.name} (you)` : person.name;
      const where = document.createElement('span');
      where.className = 'where';
      where.textContent = person.cursor ? `${person.cursor.lineNumber}:${person.cursor.column}` : '';
      item.append(dot, name, where);
      return item;
    }),
  );
}

function sameOriginGateway(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
}

function languageOf(file: string): string {
  const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
  const byExt: Record<string, string> = { ts: 'typescript', tsx: 'typescript', js: 'javascript', mjs: 'javascript', jsx: 'javascript', py: 'python', rs: 'rust', md: 'markdown' };
  return byExt[ext] ?? 'plaintext';
}

function randomColor(): string {
  const palette = ['#d1495b', '#00798c', '#edae49', '#66a182', '#8e6c8a', '#2e4057', '#e76f51', '#3d5a80'];
  return palette[Math.floor(Math.random() * palette.length)];
}
