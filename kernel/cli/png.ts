/** A tiny PNG encoder (RGBA, no filtering) for the kernelspec logos. */
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** Encodes width*height RGBA pixels (row-major) as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0;
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/**
 * The sparselab logo at `size` px: a block-sparse attention mask (causal band of 4x4 tiles,
 * full tiles dark, partial ones light) on TypeScript blue.
 */
export function logoPng(size: number): Buffer {
  const px = new Uint8Array(size * size * 4);
  const tiles = 4;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const ty = Math.floor((y * tiles) / size);
      const tx = Math.floor((x * tiles) / size);
      const inset = x % (size / tiles) < size / tiles / 10 || y % (size / tiles) < size / tiles / 10;
      let rgb: [number, number, number] = [49, 120, 198];
      if (!inset && tx < ty) rgb = [255, 255, 255];
      else if (!inset && tx === ty) rgb = [x <= y ? 255 : 160, x <= y ? 255 : 200, x <= y ? 255 : 235];
      px.set([...rgb, 255], (y * size + x) * 4);
    }
  return encodePng(size, size, px);
}
