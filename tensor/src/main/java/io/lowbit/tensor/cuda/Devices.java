package io.lowbit.tensor.cuda;

import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.CpuBackend;
import java.util.function.Consumer;

/**
 * The {@code --device} option of every training and inference command: {@code auto}, {@code cpu} or
 * {@code cuda}. Resolving says in one line which backend was chosen and why; {@code auto} falls back to
 * the CPU when the one CUDA probe failed, while an explicit {@code cuda} fails with the probe's reason.
 */
public final class Devices {
    private Devices() {}

    /** Resolves and prints the one-line choice to standard error. */
    public static Device resolve(String spec) {
        return resolve(spec, System.err::println);
    }

    /** Resolves {@code spec}, handing the one-line explanation of the choice to {@code log}. */
    public static Device resolve(String spec, Consumer<String> log) {
        String s = spec == null ? "auto" : spec.trim().toLowerCase(java.util.Locale.ROOT);
        CudaStatus st;
        switch (s) {
            case "cpu" -> {
                log.accept("lowbit: device cpu (requested with --device cpu; " + CpuBackend.INSTANCE.name() + " backend, "
                        + io.lowbit.tensor.cpu.Parallel.threads() + " threads)");
                return Device.CPU;
            }
            case "cuda" -> {
                st = CudaProbe.status();
                if (!st.available()) throw new IllegalStateException("--device cuda requested but " + st.describe());
                log.accept("lowbit: device cuda (requested with --device cuda; " + st.describe() + ")");
                return Device.CUDA;
            }
            case "auto" -> {
                st = CudaProbe.status();
                if (st.available()) {
                    log.accept("lowbit: device cuda (auto: " + st.describe() + ")");
                    return Device.CUDA;
                }
                log.accept("lowbit: device cpu (auto: " + st.describe() + ")");
                return Device.CPU;
            }
            default -> throw new IllegalArgumentException("unknown device '" + spec + "'; expected auto, cpu or cuda");
        }
    }

    /**
     * A copy of {@code t} on {@code device} (same dtype and shape, contiguous, in {@code t}'s category);
     * always a new tensor, also when {@code t} is already there.
     */
    public static Tensor to(Tensor t, Device device) {
        if (t.device() == Device.CPU && device == Device.CPU) {
            Tensor out = Tensor.empty(t.dtype(), t.category(), t.shape());
            return out.copyFrom(t);
        }
        if (device == Device.CUDA && t.device() == Device.CPU) return CudaBackend.instance().toDevice(t, t.category());
        if (device == Device.CPU && t.device() == Device.CUDA) return CudaBackend.instance().toCpu(t);
        Tensor out = CudaBackend.instance().empty(t.dtype(), t.category(), t.shape());
        return out.copyFrom(t);
    }

    /** {@link #to} keeping the category given. */
    public static Tensor to(Tensor t, Device device, MemoryCategory category) {
        Tensor out = to(t, device);
        out.label(category);
        return out;
    }
}
