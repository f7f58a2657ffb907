package io.lowbit.models.llama;

import io.lowbit.models.LlamaConfig;
import io.lowbit.tensor.Tensor;

import java.util.List;

/**
 * What {@link LlamaModel} reads from a LLaMA decoder: the dense F32 embedding, RMSNorm gains and LM head,
 * and the seven linears of each block behind {@link Linear} (dense here in {@link LlamaWeights}, quantized
 * in {@code models.quant.QuantizedLlama}). Linear slots follow {@link #LINEARS}; the model reads
 * {@link #linear} on every pass, so a linear replaced between passes (sequential calibration) takes effect.
 */
public interface DecoderWeights {
    /** The linears of a block in slot order (Hugging Face names). */
    List<String> LINEARS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
    /** Slots of {@link #LINEARS}. */
    int Q = 0, K = 1, V = 2, O = 3, GATE = 4, UP = 5, DOWN = 6;

    LlamaConfig config();

    /** Which RoPE pairing the q/k rows were trained for. */
    RopeLayout ropeLayout();

    /** [vocab, d] F32. */
    Tensor tokEmbeddings();

    /** Final RMSNorm gain [d]. */
    Tensor norm();

    /** [vocab, d] F32 (may be the embedding tensor when tied). */
    Tensor lmHead();

    /** RMSNorm gain before attention in block {@code l} [d]. */
    Tensor attnNorm(int l);

    /** RMSNorm gain before the MLP in block {@code l} [d]. */
    Tensor ffnNorm(int l);

    /** The weight of linear {@code slot} (see {@link #LINEARS}) in block {@code l}. */
    Linear linear(int l, int slot);
}
