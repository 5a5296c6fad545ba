// After `pbjs` (npm run gen:otlp): the generated AnyValue decoder names the member it read through
// protobufjs' oneof setter, which `delete`s the seven other members on every value. That made
// decoding about three times slower. It is replaced by a plain property, `$case`, that
// lib/otlp/logs.ts reads (the member read last on the wire wins, as the protobuf spec says).
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'lib/otlp/generated/logs.js';
const text = readFileSync(file, 'utf8');
let count = 0;
const out = text.replace(/^(\s*)message\.value = ("[A-Za-z]+");$/gm, (_, indent, member) => {
  count++;
  return `${indent}message.$case = ${member};`;
});
// AnyValue has eight members; anything else means the generator changed: look before shipping.
if (count !== 8) {
  console.error(`${file}: expected 8 oneof assignments in AnyValue.decode, found ${count}`);
  process.exit(1);
}
writeFileSync(file, out);
console.log(`${file}: AnyValue.decode sets $case (${count} members)`);
