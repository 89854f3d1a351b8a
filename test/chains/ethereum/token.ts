// A minimal ERC-20 for the tests (balanceOf, transfer, the Transfer event, a mint to the deployer
// in the constructor), compiled in-process by solc-js (the `solc` devDependency: its soljson.js is
// the compiler as wasm inside the package, so nothing is downloaded). Compiled once per test run.

import { createRequire } from "node:module";

export const TOKEN_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract TestToken {
  uint8 public constant decimals = 6;
  mapping(address => uint256) public balanceOf;
  event Transfer(address indexed from, address indexed to, uint256 value);
  constructor(uint256 supply) {
    balanceOf[msg.sender] = supply;
    emit Transfer(address(0), msg.sender, supply);
  }
  function transfer(address to, uint256 value) external returns (bool) {
    balanceOf[msg.sender] -= value; // reverts when short (checked arithmetic)
    balanceOf[to] += value;
    emit Transfer(msg.sender, to, value);
    return true;
  }
}
`;

export const TOKEN_ABI = [
  {
    type: "constructor",
    inputs: [{ name: "supply", type: "uint256" }],
    stateMutability: "nonpayable",
  },
  {
    type: "function",
    name: "balanceOf",
    inputs: [{ name: "", type: "address" }],
    outputs: [{ name: "", type: "uint256" }],
    stateMutability: "view",
  },
  {
    type: "function",
    name: "transfer",
    inputs: [
      { name: "to", type: "address" },
      { name: "value", type: "uint256" },
    ],
    outputs: [{ name: "", type: "bool" }],
    stateMutability: "nonpayable",
  },
] as const;

let bytecode: `0x${string}` | undefined;

/** The token's creation bytecode (compiled on first use, then cached). */
export function tokenBytecode(): `0x${string}` {
  if (bytecode !== undefined) return bytecode;
  const require = createRequire(import.meta.url);
  const solc = require("solc") as { compile(input: string): string };
  const input = {
    language: "Solidity",
    sources: { "TestToken.sol": { content: TOKEN_SOURCE } },
    settings: { evmVersion: "paris", outputSelection: { "*": { "*": ["evm.bytecode.object"] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  bytecode = `0x${out.contracts["TestToken.sol"].TestToken.evm.bytecode.object}`;
  return bytecode;
}
