// demo-files/demo/main.ts: the demo's file, on disk. scripts/demo copied it here from
// scripts/lib/demo-main.ts because it was missing; the gateway (--files dir) opens the
// document from it and writes what anyone types back to it.
//
// Type in the page: this file changes within a second or so.
// Edit this file with any editor and save: the page shows the change
// ("changed outside, merged" in the status bar), and typing in the page meanwhile stays.

export function greet(name: string): string {
  return `Hello, ${name}!`;
}

console.log(greet('collab'));
