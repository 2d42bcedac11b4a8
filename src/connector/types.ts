// What the rest of the tool sees of a host: run a script as root, hold a
// long-running script, open a TCP stream from the host's side, close.
import type { Duplex } from 'node:stream';
import type { ShellScript } from '../shell/script.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface HeldScript {
  /** The first line the script printed, without its newline. */
  firstLine: string;
  /** What it printed before holding: up to the `until` line (without it), or all of it if it exited first. */
  output: string;
  /** Closes the script's stdin and waits for it to exit. */
  release(): Promise<void>;
}

export interface Connector {
  /** e.g. "deploy@127.0.0.2:22" or "local" */
  readonly label: string;
  /**
   * Runs a POSIX sh script built with sh`` (as root: through sudo when the login user is not root).
   * The script goes over stdin, never argv. A script still running after
   * `timeoutMs` is signalled and its result has code 124, like timeout(1).
   */
  run(script: ShellScript, options?: { timeoutMs?: number }): Promise<ExecResult>;
  /**
   * Starts a script that keeps running until release() (e.g. holding a
   * flock); resolves once its first stdout line arrives, or with `until`, once
   * a line equal to it arrives (or the script exits).
   */
  hold(script: ShellScript, options?: { until?: string }): Promise<HeldScript>;
  /** A TCP stream to host:port as seen from the server (ssh direct-tcpip), for tunnelling HTTP. */
  openTunnel(host: string, port: number): Promise<Duplex>;
  close(): Promise<void>;
}
