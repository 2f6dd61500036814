// jkurwa as Brama's independent DSTU 4145 peer, driven by certs/tests/jkurwa.rs (the way the
// openssl command is driven for ECDSA/RSA). Every command prints one JSON line.
//
//   node peer.js curves DIR                  verify Brama's raw signatures, sign the same hash
//   node peer.js verify-cms FILE             jkurwa's verdict on a CMS signature
//   node peer.js sign-cms KEY CERT DATA OUT  a CMS signedData by jkurwa, content attached
//   node peer.js store-sign STORE PASSWORD HASH OUT  open a protected key store, sign a hash
//   node peer.js iit-store KEY PASSWORD OUT  write KEY (PKCS#8) in IIT's older Key-6.dat layout
//                                            with gost89's own cipher, MAC and password hash
//   node peer.js jks-open FILE PASSWORD      open a Java KeyStore with jksreader (jkurwa's)
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

// Brama's login statement content type (certs::oids::LOGIN_STATEMENT, 2.25.<a UUID>). jkurwa
// knows only PKCS#7's own types; the statement is read as it reads `data`, which it is: JSON
// octets. asn1.js reads the UUID arc in 32-bit arithmetic, so the key is what it makes of it.
const LOGIN_STATEMENT = "2 25 647010509";
function teachLoginStatement() {
  const spec = require("jkurwa/lib/spec/dstszi2010.js");
  const node = spec.ContentType._getDecoder("der").tree._baseState.children[0]._baseState;
  node.args[0][LOGIN_STATEMENT] = "data";
}

function verifyCms(file) {
  teachLoginStatement();
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

function iitStore(keyFile, password, out) {
  const StoreIIT = require("jkurwa/lib/spec/keystore.js").StoreIIT;
  const plain = fs.readFileSync(keyFile);
  const key = gost89.compat.convert_password({ format: "IIT" }, password);
  const ctx = gost89.init();
  ctx.key(key);
  const mac = ctx.mac(32, plain);
  const padded = Buffer.concat([plain, Buffer.alloc((8 - (plain.length % 8)) % 8)]);
  const enc = ctx.crypt(padded);
  const der = StoreIIT.encode(
    {
      cryptParam: {
        cryptType: "IIT Store",
        cryptParam: { mac, pad: enc.slice(plain.length) },
      },
      cryptData: enc.slice(0, plain.length),
    },
    "der"
  );
  fs.writeFileSync(out, der);
  // jkurwa reads it back, as it reads IIT's own files.
  const opened = jk.Priv.from_protected(der, password, algo);
  return { written: out, keys: opened.keys.length };
}

function jksOpen(file, password) {
  const jks = require("jksreader");
  const store = jks.parse(fs.readFileSync(file));
  const keys = [];
  for (const part of store.material) {
    const buf = jks.decode(part.key, password);
    if (!buf) throw new Error("the password does not open the key");
    let kind = "other";
    try {
      jk.Priv.from_asn1(buf);
      kind = "dstu4145";
    } catch (ignore) {}
    keys.push({ name: part.name, kind, certificates: part.certs.length });
  }
  return { keys };
}

const run = {
  "iit-store": iitStore,
  "jks-open": jksOpen,
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
