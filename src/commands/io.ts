/** Where commands write: injected so tests can capture output without spawning. */

/** A command's output streams. */
export interface CommandIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The process's own streams. */
export const processIO: CommandIO = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
};
