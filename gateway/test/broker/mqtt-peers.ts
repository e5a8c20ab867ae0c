/**
 * Helpers of the broker tests: Debian's mosquitto clients (MQTT 3.1.1, `-V mqttv311`)
 * run as child processes, and an `mqtt` package client that resolves once connected.
 */
import { spawn } from 'node:child_process';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs mosquitto_sub / mosquitto_pub against 127.0.0.1:`port` with MQTT 3.1.1. */
export function mosquitto(tool: 'mosquitto_sub' | 'mosquitto_pub', port: number, args: readonly string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts mosquitto_sub and gives it time to subscribe; `done` resolves when it exits. */
export function subscriber(port: number, args: readonly string[], timeoutMs = 15_000): { done: Promise<Run> } {
  return { done: mosquitto('mosquitto_sub', port, args, timeoutMs) };
}

/** An mqtt.js client speaking MQTT 3.1.1 (protocolVersion 4), connected. */
export async function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
}
