/** File formats: a strict {@link io.lowbit.tensor.io.Json} reader/writer, safetensors I/O, atomic writes and the test-only {@link io.lowbit.tensor.io.CrashPoint}s. */
package io.lowbit.tensor.io;
