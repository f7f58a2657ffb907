/**
 * Bit packing of integer quantization codes (2, 3, 4 and 8 bits) into bytes.
 *
 * <p>Layout: a run of codes is one little-endian bit stream; code {@code i} occupies bits
 * {@code [i·b, i·b + b)}, where bit {@code k} is bit {@code k % 8} of byte {@code k / 8}. So int4 puts
 * code 2j in the low nibble and code 2j+1 in the high nibble of byte j, int2 puts four codes per byte
 * from the least significant pair up, and int3 packs 8 codes into 3 bytes (32 codes in 12 bytes).
 */
package io.lowbit.quant.pack;
