// The peer's side of the load benchmark's recording: 200 phones, each a PouchDB on LevelDB
// with its own ten documents, synced one at a time through the recording proxy on the
// benchmark's command (one line on stdin each): `sync i` pushes phone i's documents and
// pulls what is there, `pull i` pulls only. Each command makes a fresh remote handle, as a
// phone starting a sync would. Prints `ready`, then `done i` after each command.
// usage: node load.js <server url> <phones.json: an array of arrays of documents> <local dir>
const PouchDB = require('pouchdb');
const fs = require('fs');
const readline = require('readline');

async function main() {
  const [url, file, dir] = process.argv.slice(2);
  const phones = JSON.parse(fs.readFileSync(file, 'utf8'));
  const locals = [];
  for (let i = 0; i < phones.length; i++) {
    const db = new PouchDB(`${dir}/phone-${i}`);
    await db.bulkDocs(phones[i].map((d) => ({ ...d, _id: d.id })));
    locals.push(db);
  }
  console.log('ready');
  // PouchDB's best settings from the sync benchmark: everything in one batch.
  const options = { batch_size: 5000, batches_limit: 4 };
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [command, n] = line.trim().split(' ');
    const local = locals[Number(n)];
    const remote = new PouchDB(url);
    if (command === 'sync') await local.replicate.to(remote, options);
    await local.replicate.from(remote, options);
    console.log(`done ${n}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
