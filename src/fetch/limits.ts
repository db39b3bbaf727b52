/**
 * Bounds on what one `camel-oci fetch` run may download and unpack. Pure: constants and one
 * constructor. The defaults fit the emptyDir `sizeLimit` a pod gets and leave room for the JVM's
 * own temporary files on the same node.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Default bound on unpacked bytes for a whole run: a bomb must not fill the node's disk or the emptyDir. */
export const MAX_UNPACKED_BYTES = 1 * GiB;

/** Default bound on archive entries for a whole run: each costs an inode and a syscall or three. */
export const MAX_FILES = 100_000;

/** Default bound on one layer's blob (as stored, compressed): no real dependency artifact comes close. */
export const MAX_LAYER_BYTES = 512 * MiB;

/** Default bound on an entry path in bytes: Maven-style trees stay far below; deep trees only cost syscalls. */
export const MAX_PATH_LENGTH = 1024;

/** Bound on one path segment in bytes: NAME_MAX on Linux file systems, so longer names could never be created. */
export const MAX_NAME_LENGTH = 255;

/**
 * Default bound on decompressed / compressed bytes of one layer. Jars are already deflated (ratio
 * near 1) and text compresses about 10:1; only a bomb reaches 1000:1.
 */
export const MAX_COMPRESSION_RATIO = 1000;

/**
 * The ratio is checked only past this many decompressed bytes: a tiny tar is mostly zero padding
 * (a 10 KiB record holding one small file) and legitimately compresses a few hundred to one.
 */
export const COMPRESSION_RATIO_FLOOR = 4 * MiB;

/** Bounds applied while unpacking. */
export interface UnpackLimits {
  /** Bytes that may come out of the decompressors, summed over every layer of the run. */
  readonly maxUnpackedBytes: number;
  /** Archive entries (files, directories, ignored entries), summed over every layer of the run. */
  readonly maxFiles: number;
  /** Bytes of one layer's blob as downloaded (before decompression). */
  readonly maxLayerBytes: number;
  /** Bytes of one entry path inside an archive. */
  readonly maxPathLength: number;
  /** Decompressed / compressed bytes of one layer; undefined disables the check. */
  readonly maxCompressionRatio?: number;
}

/** The default limits, frozen. */
export const DEFAULT_UNPACK_LIMITS: UnpackLimits = Object.freeze({
  maxUnpackedBytes: MAX_UNPACKED_BYTES,
  maxFiles: MAX_FILES,
  maxLayerBytes: MAX_LAYER_BYTES,
  maxPathLength: MAX_PATH_LENGTH,
  maxCompressionRatio: MAX_COMPRESSION_RATIO,
});

/**
 * What is left to spend in one run. One object is shared by every layer of the run (also layers
 * unpacked in parallel) and decremented as bytes and entries flow; it never goes below zero.
 */
export interface UnpackBudget {
  bytes: number;
  files: number;
}

/** Creates the budget for one run from its limits. */
export function createBudget(limits: UnpackLimits): UnpackBudget {
  return { bytes: limits.maxUnpackedBytes, files: limits.maxFiles };
}
