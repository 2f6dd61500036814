// jkurwa as Brama's independent DSTU 4145 peer, driven by certs/tests/jkurwa.rs (the way the
// openssl command is driven for ECDSA/RSA). Every command prints one JSON line.
//
//   node peer.js curves DIR                  verify Brama's raw signatures, sign the same hash
//   node peer.js verify-cms FILE             jkurwa's verdict on a CMS signature
//   node peer.js sign-cms KEY CERT DATA OUT  a CMS signedData by jkurwa, content attached
//   node peer.js store-sign STORE PASSWORD HASH OUT  open a protected key store, sign a hash
"use strict";
const fs = require("fs");
const path = require("path");
const jk = require("jkurwa");
const gost89 = require("gost89");
const Message = require("jkurwa/lib/models/Message.js");

const algo = gost89.compat.algos();
const [command, ...args] = process.argv.slice(2);

function curves(dir) {
  const results = [];
  for (let i = 0; ; i++) {
    const keyFile = path.join(dir, `key-${i}.pk8`);
    if (!fs.existsSync(keyFile)) break;
    const hash = fs.readFileSync(path.join(dir, `hash-${i}.bin`));
    const priv = jk.Priv.from_asn1(fs.readFileSync(keyFile));
    const brama = fs.readFileSync(path.join(dir, `sig-brama-${i}.bin`));
    let verified;
    try {
      verified = priv.pub().verify(hash, brama, "le");
    } catch (e) {
      verified = `error: ${e.message}`;
    }
    fs.writeFileSync(path.join(dir, `sig-jkurwa-${i}.bin`), priv.sign(hash, "le"));
    results.push({ index: i, m: priv.curve.m, verified });
  }
  return results;
}

function verifyCms(file) {
  const msg = new Message(fs.readFileSync(file));
  let valid;
  try {
    valid = msg.verify(algo.hash);
  } catch (e) {
    valid = `error: ${e.message}`;
  }
  return { valid };
}

function signCms(keyFile, certFile, dataFile, out) {
  const signer = jk.Priv.from_asn1(fs.readFileSync(keyFile));
  const cert = jk.Certificate.from_asn1(fs.readFileSync(certFile));
  const msg = new Message({
    type: "signedData",
    cert,
    data: fs.readFileSync(dataFile),
    hash: algo.hash,
    signTime: Math.floor(Date.now() / 1000),
    signer,
  });
  fs.writeFileSync(out, Buffer.from(msg.as_asn1()));
  return { written: out };
}

function storeSign(store, password, hashFile, out) {
  const opened = jk.Priv.from_protected(fs.readFileSync(store), password, algo);
  const keys = opened.keys || [];
  const sig = keys[0].sign(fs.readFileSync(hashFile), "le");
  fs.writeFileSync(out, sig);
  return { keys: keys.length, m: keys[0].curve.m };
}

const run = {
  curves,
  "verify-cms": verifyCms,
  "sign-cms": signCms,
  "store-sign": storeSign,
}[command];
if (!run) {
  console.error(`usage: node peer.js curves|verify-cms|sign-cms ...`);
  process.exit(2);
}
console.log(JSON.stringify(run(...args)));
