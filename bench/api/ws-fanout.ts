// WebSocket fan-out clients for `npm run bench:api`, in a child process. Opens N subscribers of
// spot/order_book_updates:PAIR, spread over loopback addresses 127.0.0.2… because the server
// allows at most 20 connections per IP (docs/SECURITY.md#websocket-limits), and records for every update frame the
// delay between the server's `ts` and arrival. Input: JSON in argv[2]; output: one JSON line.
// Protocol: stdout line "ready" once all are subscribed; then it measures until stdin says "stop".

import { createInterface } from "node:readline";
import WebSocket from "ws";

interface FanoutInput {
  wsUrl: string;
  subscribers: number;
  pair: string;
  connectionsPerAddress: number;
}

const input = JSON.parse(process.argv[2]) as FanoutInput;
const MAX_SAMPLES = 5_000_000;
const delaysMs: number[] = [];
const sockets: WebSocket[] = [];
let updates = 0;
let dropped = 0;
let measuring = false;

function localAddress(index: number): string {
  const host = 2 + Math.floor(index / input.connectionsPerAddress);
  return `127.0.${Math.floor(host / 250)}.${(host % 250) + 1}`;
}

function open(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(input.wsUrl, {
      localAddress: localAddress(index),
      perMessageDeflate: false,
    });
    sockets.push(socket);
    socket.on("open", () => {
      socket.send(
        JSON.stringify({ method: "subscribe", id: 1, topics: [`spot/order_book_updates:${input.pair}`] }),
      );
    });
    socket.on("message", (data: WebSocket.RawData) => {
      const frame = JSON.parse(data.toString()) as { event: string; ts: number };
      if (frame.event === "subscribed") resolve();
      else if (frame.event === "error") reject(new Error(data.toString()));
      else if (frame.event === "update" && measuring) {
        updates += 1;
        if (delaysMs.length < MAX_SAMPLES) delaysMs.push(Date.now() - frame.ts);
      }
    });
    socket.on("close", () => {
      if (measuring) dropped += 1;
    });
    socket.on("error", reject);
  });
}

async function main(): Promise<void> {
  // Open in bounded waves so the server's accept queue is not flooded.
  const WAVE = 200;
  for (let start = 0; start < input.subscribers; start += WAVE) {
    const wave: Promise<void>[] = [];
    for (let index = start; index < Math.min(input.subscribers, start + WAVE); index++)
      wave.push(open(index));
    await Promise.all(wave);
  }
  measuring = true;
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "stop") break;
  }
  measuring = false;
  for (const socket of sockets) socket.terminate();
  process.stdout.write(`${JSON.stringify({ updates, dropped, delaysMs })}\n`);
}

await main();
