// The demo page: a file picker, a name, the editor, the people present and a connection banner.
//
// Query parameters fill the form and open the file at once: `?file=a.ts&name=Ada&color=%23d1495b`,
// plus `gateways=ws://h1:p1,ws://h2:p2` (default: the gateway that served this page),
// `token=...` and `readonly=1`. Tests drive the page through `window.__collab` (ESM builds of
// Monaco define no `window.monaco`).
import * as monaco from 'monaco-editor/editor';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
import 'monaco-editor/languages/definitions/typescript/register';
import 'monaco-editor/languages/definitions/javascript/register';
import 'monaco-editor/languages/definitions/python/register';
import 'monaco-editor/languages/definitions/rust/register';
import 'monaco-editor/languages/definitions/markdown/register';
import { connect, type CollabSession, type ConnectionStatus, type Presence } from '../src/index.js';
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
  open(options: OpenOptions): void;
  leave(): void;
  text(): string;
}

interface OpenOptions {
  file: string;
  name: string;
  color?: string;
  gateways?: string[];
  token?: string;
  readOnly?: boolean;
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
const presenceList = $<HTMLUListElement>('presence');

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
  open,
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

form.addEventListener('submit', (event) => {
  event.preventDefault();
  open({
    file: fileInput.value.trim(),
    name: nameInput.value.trim(),
    color: colorInput.value,
    gateways,
    token,
    readOnly: readOnlyInput.checked,
  });
});
leaveButton.addEventListener('click', leave);

if (fileInput.value && nameInput.value) form.requestSubmit();

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
    name: options.name,
    color: options.color,
    readOnly: options.readOnly,
  });
  hook.session = session;
  session.on('status', showStatus);
  session.on('presence', showPresence);
  session.on('extension', (message) => console.info('collab extension message', message));
  showStatus(session.status);
  showPresence(session.presence);
  leaveButton.disabled = false;
  const url = new URL(location.href);
  url.searchParams.set('file', options.file);
  url.searchParams.set('name', options.name);
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
  banner.dataset.state = 'idle';
  banner.textContent = 'Left the file. Pick a file and a name, then Open.';
}

function showStatus(status: ConnectionStatus): void {
  hook.statuses.push(status);
  banner.dataset.state = status.state;
  const where = status.url.replace(/^wss?:\/\//, '').replace(/\/doc$/, '');
  const why = status.message ? `${status.message} ` : '';
  const texts: Record<ConnectionStatus['state'], string> = {
    connecting: `Connecting to ${where}…`,
    connected: `Connected to ${where}, syncing…`,
    synced: `Connected to ${where}. All changes are shared.`,
    reconnecting: `${why}Reconnecting (${where})… your edits are kept and will be sent.`,
    offline: 'You are offline. Your edits are kept and will be sent when the network is back.',
    closed: `Closed: ${why}${status.code ? `(${status.code}${status.reason ? ` ${status.reason}` : ''})` : ''}`,
  };
  banner.textContent = texts[status.state];
  if (status.state === 'closed' && hook.session && status.code !== 1000) leaveButton.disabled = true;
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
