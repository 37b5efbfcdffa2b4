// The benchmark's reference: graphphoto's photo operation (648×648 cover, centre, Lanczos3,
// EXIF orientation applied, flattened on white, sRGB, baseline JPEG Q85) done by sharp, so
// make bench can put a widely used libvips binding beside ours on the same files.
//
//   node reference.js cold IN OUT                one image, then exit (process start included)
//   node reference.js warm PASSES LIST JSON      every file in LIST (one path a line), a pass
//                                                to warm up and PASSES timed ones; medians to JSON
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const sharp = require('sharp');

// Each photo is new to a Lambda, so no result may come from a cache.
sharp.cache(false);

function photo(buf) {
  return sharp(buf)
    .autoOrient()
    .resize(648, 648, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .jpeg({ quality: 85, progressive: false, mozjpeg: false })
    .toBuffer();
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

async function warm(passes, list, jsonOut) {
  const files = fs.readFileSync(list, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const inputs = files.map((f) => fs.readFileSync(f));
  const times = files.map(() => []);
  const ok = files.map(() => true);
  const errors = files.map(() => '');
  // Pass 0 warms sharp up and finds the files it cannot read; it is not timed.
  for (let pass = 0; pass <= passes; pass++) {
    for (let i = 0; i < files.length; i++) {
      if (!ok[i]) continue;
      const t0 = process.hrtime.bigint();
      try {
        await photo(inputs[i]);
      } catch (e) {
        ok[i] = false;
        errors[i] = String(e && e.message ? e.message : e);
        continue;
      }
      if (pass > 0) times[i].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const images = files.map((f, i) => ({ file: path.basename(f), ok: ok[i], median_ms: median(times[i]), error: errors[i] }));
  fs.writeFileSync(jsonOut, JSON.stringify({ tool: 'sharp', version: sharp.versions, passes, images }, null, 1));
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'cold' && args.length === 2) {
    fs.writeFileSync(args[1], await photo(fs.readFileSync(args[0])));
  } else if (mode === 'warm' && args.length === 3 && Number(args[0]) > 0) {
    await warm(Number(args[0]), args[1], args[2]);
  } else {
    process.stderr.write('usage: reference.js cold IN OUT | reference.js warm PASSES LIST JSON\n');
    process.exit(2);
  }
}

main().catch((e) => {
  process.stderr.write(`reference.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
