/** File formats: a strict {@link io.lowbit.tensor.io.Json} reader/writer and safetensors I/O. */
package io.lowbit.tensor.io;
