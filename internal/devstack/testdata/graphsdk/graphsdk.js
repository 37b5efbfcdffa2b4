'use strict';
// Calls the local stack's API through the stock Microsoft Graph JavaScript client, as an
// application written for Graph would, and prints one JSON array with what became of each call.
// It checks nothing itself: internal/devstack's TestStack reads the array and asserts.
//
// Environment: GRAPHPHOTO_API_URL (the stack's https:// API), USER_TOKEN (bob's), ADMIN_TOKEN,
// OTHER_USER (a UPN that is not bob), PHOTO_FILE, PDF_FILE; NODE_EXTRA_CA_CERTS names the stack's
// CA so that Node's fetch trusts the API's certificate.
const fs = require('fs');
const { Client, GraphError, ResponseType } = require('@microsoft/microsoft-graph-client');

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set`);
  }
  return v;
};
const base = env('GRAPHPHOTO_API_URL');
const photo = fs.readFileSync(env('PHOTO_FILE'));
const pdf = fs.readFileSync(env('PDF_FILE'));
const other = env('OTHER_USER');

// The client sends the bearer token only to Graph's own hosts and to customHosts, and only over
// https://; a custom host is a host name, without the port.
const localHost = new Set([new URL(base).hostname]);
function client(token, customHosts) {
  return Client.init({
    baseUrl: base,
    defaultVersion: 'v1.0',
    customHosts,
    authProvider: (done) => done(null, token),
  });
}

const user = client(env('USER_TOKEN'), localHost);
const admin = client(env('ADMIN_TOKEN'), localHost);
const withoutCustomHosts = client(env('USER_TOKEN'), new Set());

// Without a Content-Type of its own, the client labels a PUT body application/json.
const jpeg = { 'Content-Type': 'image/jpeg' };

const calls = [
  ['put me', () => user.api('/me/photo/$value').headers(jpeg).put(photo)],
  ['get me metadata', () => user.api('/me/photo').get()],
  ['get me value', () => user.api('/me/photo/$value').responseType(ResponseType.ARRAYBUFFER).get()],
  ['put other as admin', () => admin.api(`/users/${other}/photo/$value`).headers(jpeg).put(photo)],
  ['put other as user', () => user.api(`/users/${other}/photo/$value`).headers(jpeg).put(photo)],
  ['put pdf', () => user.api('/me/photo/$value').headers(jpeg).put(pdf)],
  ['put without content type', () => user.api('/me/photo/$value').put(photo)],
  ['put without custom hosts', () => withoutCustomHosts.api('/me/photo/$value').headers(jpeg).put(photo)],
];

async function main() {
  const results = [];
  for (const [name, call] of calls) {
    try {
      const body = await call();
      const r = { name, ok: true };
      if (body instanceof ArrayBuffer) {
        const bytes = Buffer.from(body);
        r.bytes = bytes.length;
        r.head = bytes.subarray(0, 3).toString('hex');
      } else {
        r.body = body;
      }
      results.push(r);
    } catch (e) {
      results.push({
        name,
        ok: false,
        graphError: e instanceof GraphError,
        statusCode: e.statusCode,
        code: e.code,
        message: e.message,
        requestId: e.requestId,
      });
    }
  }
  process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch((e) => {
  process.stderr.write(`graphsdk.js: ${e.stack || e}\n`);
  process.exit(1);
});
