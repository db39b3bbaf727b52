/**
 * The file system calls of the fetcher's modules, as promises made from node:fs's callback API
 * instead of node:fs/promises. Loading node:fs/promises also loads readline, the REPL's history and
 * fs streams (about 15 built-in modules), which cost every init container 2-3 ms of CPU, 3 % of a
 * small fetch (bench/RESULTS.md, session 7). The calls, their arguments and their errors are
 * node:fs's own; a file is an fd, opened and closed by the caller.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

export const access = promisify(fs.access);
export const chmod = promisify(fs.chmod);
export const close = promisify(fs.close);
export const fchmod = promisify(fs.fchmod);
export const fstat = promisify(fs.fstat);
export const lstat = promisify(fs.lstat);
export const mkdir = promisify(fs.mkdir);
export const open = promisify(fs.open);
export const opendir = promisify(fs.opendir);
export const read = promisify(fs.read);
export const readdir = promisify(fs.readdir);
export const readFile = promisify(fs.readFile);
export const rename = promisify(fs.rename);
export const rmdir = promisify(fs.rmdir);
export const stat = promisify(fs.stat);
export const unlink = promisify(fs.unlink);
export const write = promisify(fs.write);
export const writeFile = promisify(fs.writeFile);
