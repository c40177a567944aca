// Loads NDJSON documents into a pouchdb-server database, then times a fresh PouchDB (LevelDB
// on disk, like a phone's store) replicating them. Prints one JSON line.
// usage: node replicate.js <server url> <ndjson file> <local dir>
const PouchDB = require('pouchdb');
const fs = require('fs');

async function main() {
  const [url, file, dir] = process.argv.slice(2);
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const remote = new PouchDB(url);
  for (let i = 0; i < lines.length; i += 1000) {
    const docs = lines.slice(i, i + 1000).map((l) => { const d = JSON.parse(l); d._id = d.id; return d; });
    await remote.bulkDocs(docs);
  }
  // Five fresh replicas; the median time counts (the machine is shared and noisy).
  const times = [];
  let docs = 0;
  for (let run = 0; run < 5; run++) {
    const local = new PouchDB(`${dir}-${run}`);
    const t0 = process.hrtime.bigint();
    await local.replicate.from(remote, { batch_size: 1000, batches_limit: 4 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    docs = (await local.info()).doc_count;
    await local.close();
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ docs, seconds: times[2], runs: times }));
}

main().catch((e) => { console.error(e); process.exit(1); });
