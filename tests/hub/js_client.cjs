// tests/hub/js_client.cjs — the official JavaScript client (@huggingface/hub, pinned) against
// `automodel hub serve`: create repos, upload (regular, LFS basic and multipart), list, download.
// Environment: HUB_URL, HUB_TOKEN (a write token for user jsuser), HUB_JS_DIR (npm prefix),
// FIXTURE_DIR (the model folder to upload). Exits non-zero with a message on the first failure.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const assert = require('node:assert/strict');
const { createRequire } = require('node:module');
const req = createRequire(path.join(process.env.HUB_JS_DIR, 'package.json'));
const hub = req('@huggingface/hub');

const hubUrl = process.env.HUB_URL;
const accessToken = process.env.HUB_TOKEN;
const fixture = process.env.FIXTURE_DIR;

async function main() {
  const who = await hub.whoAmI({ accessToken, hubUrl });
  assert.equal(who.name, 'jsuser');

  const repo = { type: 'model', name: 'jsuser/js-model' };
  const created = await hub.createRepo({ repo, accessToken, hubUrl, private: false });
  assert.ok(created.repoUrl.endsWith('/jsuser/js-model'), created.repoUrl);
  await assert.rejects(hub.createRepo({ repo, accessToken, hubUrl }), /already/i);

  const cfg = fs.readFileSync(path.join(fixture, 'config.json'));
  const weights = fs.readFileSync(path.join(fixture, 'model.safetensors'));
  const binary = Buffer.alloc(100000);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 13) % 256;
  await hub.uploadFiles({
    repo, accessToken, hubUrl, commitTitle: 'upload from the JS client',
    files: [
      { path: 'config.json', content: new Blob([cfg]) },
      { path: 'model.safetensors', content: new Blob([weights]) },
      { path: 'nested/dir/data.bin', content: new Blob([binary]) },
      { path: 'nested/notes.txt', content: new Blob(['hello from js\n']) },
    ],
  });

  const names = [];
  for await (const f of hub.listFiles({ repo, hubUrl, accessToken, recursive: true })) names.push(`${f.type}:${f.path}`);
  for (const want of ['file:config.json', 'file:model.safetensors', 'file:nested/dir/data.bin', 'file:nested/notes.txt',
                      'directory:nested', 'directory:nested/dir'])
    assert.ok(names.includes(want), `listFiles lacks ${want}: ${names.join(', ')}`);
  const top = [];
  for await (const f of hub.listFiles({ repo, hubUrl })) top.push(f.path);
  assert.deepEqual(top.sort(), ['.gitattributes', 'config.json', 'model.safetensors', 'nested']);

  for (const [p, want] of [['model.safetensors', weights], ['config.json', cfg], ['nested/dir/data.bin', binary]]) {
    const blob = await hub.downloadFile({ repo, path: p, hubUrl, accessToken });
    assert.ok(blob, `downloadFile(${p}) returned null`);
    const got = Buffer.from(await blob.arrayBuffer());
    assert.ok(got.equals(want), `${p}: downloaded bytes differ (${got.length} vs ${want.length})`);
  }
  assert.equal(await hub.downloadFile({ repo, path: 'nope.txt', hubUrl }), null);

  const info = await hub.modelInfo({ name: repo.name, hubUrl });
  assert.equal(info.name, 'jsuser/js-model');
  assert.equal(info.private, false);

  // a private repo is invisible without the token
  const priv = { type: 'model', name: 'jsuser/js-private' };
  await hub.createRepo({ repo: priv, accessToken, hubUrl, private: true });
  await hub.uploadFile({ repo: priv, accessToken, hubUrl, file: { path: 'secret.txt', content: new Blob(['s3cret']) } });
  const got = await hub.downloadFile({ repo: priv, path: 'secret.txt', hubUrl, accessToken });
  assert.equal(await got.text(), 's3cret');
  await assert.rejects(hub.modelInfo({ name: priv.name, hubUrl }), /not found/i);

  await hub.deleteRepo({ repo: priv, accessToken, hubUrl });
  await assert.rejects(hub.modelInfo({ name: priv.name, hubUrl, accessToken }), /not found/i);
  console.log('js client: ok');
}

main().catch((e) => {
  console.error('js client FAILED:', e && e.stack ? e.stack : e);
  process.exit(1);
});
