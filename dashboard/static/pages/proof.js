// The proof of work an anonymous report carries: find a nonce such that
// SHA-256(challenge + ":" + nonce) starts with `bits` zero bits. SHA-256 is written out
// here because crypto.subtle exists only on HTTPS pages and not in every in-app browser
// (WeChat's); the search runs in slices so that the page stays responsive meanwhile.
// Plain ES2017 without modules.
"use strict";
var yzProof = (function () {
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
  ];
  var w = new Int32Array(64);

  // UTF-8 bytes of a string (the challenge is ASCII; this keeps the hash honest anyway).
  function utf8(text) {
    var bytes = [];
    var encoded = unescape(encodeURIComponent(text));
    for (var i = 0; i < encoded.length; i++) bytes.push(encoded.charCodeAt(i));
    return bytes;
  }

  var block = new Uint8Array(128);   // the padded message, grown when one is longer

  // The eight 32-bit words of SHA-256 of the first `length` bytes of `bytes`.
  function digest(bytes, length) {
    var size = ((length + 8) >> 6 << 6) + 64;
    if (block.length < size) block = new Uint8Array(size);
    var padded = block;
    for (var n = 0; n < length; n++) padded[n] = bytes[n];
    padded[length] = 0x80;
    for (n = length + 1; n < size - 8; n++) padded[n] = 0;
    var bitsHigh = Math.floor(length / 0x20000000);
    var bitsLow = (length * 8) >>> 0;
    padded[size - 8] = bitsHigh >>> 24; padded[size - 7] = (bitsHigh >>> 16) & 255;
    padded[size - 6] = (bitsHigh >>> 8) & 255; padded[size - 5] = bitsHigh & 255;
    padded[size - 4] = bitsLow >>> 24; padded[size - 3] = (bitsLow >>> 16) & 255;
    padded[size - 2] = (bitsLow >>> 8) & 255; padded[size - 1] = bitsLow & 255;
    var h0 = 0x6a09e667, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372, h3 = 0xa54ff53a | 0;
    var h4 = 0x510e527f, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
    for (var start = 0; start < size; start += 64) {
      for (var i = 0; i < 16; i++) {
        var at = start + i * 4;
        w[i] = (padded[at] << 24) | (padded[at + 1] << 16) | (padded[at + 2] << 8) | padded[at + 3];
      }
      for (i = 16; i < 64; i++) {
        var a15 = w[i - 15], a2 = w[i - 2];
        var s0 = ((a15 >>> 7) | (a15 << 25)) ^ ((a15 >>> 18) | (a15 << 14)) ^ (a15 >>> 3);
        var s1 = ((a2 >>> 17) | (a2 << 15)) ^ ((a2 >>> 19) | (a2 << 13)) ^ (a2 >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & g);
        var t1 = (h + S1 + ch + K[i] + w[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0;
        d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
    }
    return [h0 >>> 0, h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0, h5 >>> 0, h6 >>> 0, h7 >>> 0];
  }

  function hex(bytesOrText) {
    var bytes = typeof bytesOrText === "string" ? utf8(bytesOrText) : bytesOrText;
    var words = digest(bytes, bytes.length);
    return words.map(function (x) { return ("0000000" + x.toString(16)).slice(-8); }).join("");
  }

  function leadingZeroBits(words) {
    var count = 0;
    for (var i = 0; i < words.length; i++) {
      if (words[i] === 0) { count += 32; continue; }
      return count + Math.clz32(words[i]);
    }
    return count;
  }

  // A nonce (as a string) that solves the challenge; resolves after some slices of work.
  // The message is one buffer: the challenge and ":" once, the nonce's digits after them.
  function solve(challenge, bits) {
    var prefix = utf8(challenge + ":");
    var message = new Uint8Array(prefix.length + 20);
    message.set(prefix);
    var nonce = 0;
    return new Promise(function (resolve) {
      function slice() {
        var until = Date.now() + 40;
        while (Date.now() < until) {
          for (var i = 0; i < 1000; i++, nonce++) {
            var digits = String(nonce);
            for (var j = 0; j < digits.length; j++) message[prefix.length + j] = digits.charCodeAt(j);
            if (leadingZeroBits(digest(message, prefix.length + digits.length)) >= bits) {
              resolve(digits);
              return;
            }
          }
        }
        setTimeout(slice, 0);
      }
      slice();
    });
  }

  return {hex: hex, solve: solve};
})();
