package io.lowbit.tensor.cuda;

import static io.lowbit.tensor.cuda.KernelSignatures.Kind.*;
import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.BinaryOp;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.ReduceOp;
import io.lowbit.tensor.UnaryOp;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Kernel signatures as launches see them, and the enum orders the kernels' switch statements rely on. */
class KernelSignaturesTest {
    private static final Map<String, List<KernelSignatures.Kind>> SIG = KernelSignatures.parse(KernelSource.module("float"));

    @Test
    void everyKernelIsParsed() {
        assertEquals(List.of("convert", "fill", "unary", "binary", "axpy", "reduce", "softmax", "index_select", "gather", "scatter_add",
                "index_add", "rms_norm", "rope", "cross_entropy", "nf4_dequant", "intb_dequant", "fake_quant", "fake_quant_backward"),
                List.copyOf(SIG.keySet()));
        assertEquals(List.of(INT, POINTER, LAYOUT, LAYOUT, LONG, POINTER), SIG.get("reduce"));
        assertEquals(List.of(POINTER, LAYOUT, INT, POINTER, LAYOUT, INT, LONG), SIG.get("convert"));
        assertEquals(List.of(POINTER, INT, POINTER, POINTER, LONG, POINTER, LONG), SIG.get("intb_dequant"));
        assertEquals(SIG, KernelSignatures.parse(KernelSource.module("double")), "both element types have the same signatures");
    }

    @Test
    void mismatchedLaunchesAreRefused() {
        long[] layout = Layout.contiguous(new int[] {3});
        jcuda.Pointer p = new jcuda.Pointer();
        KernelSignatures.check(SIG, "fill", new Object[] {p, layout, 0, 1.0, 3L});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KernelSignatures.check(SIG, "fill", new Object[] {p, layout, 0, 1.0, 3}));
        assertEquals("kernel fill argument 4 must be LONG, got INT (3)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KernelSignatures.check(SIG, "fill", new Object[] {p, layout, 0, 1.0}));
        assertEquals("kernel fill takes 5 arguments [POINTER, LAYOUT, INT, DOUBLE, LONG], got 4", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KernelSignatures.check(SIG, "filll", new Object[] {}));
        assertEquals("no kernel named filll in KernelSource", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> KernelSignatures.check(SIG, "fill", new Object[] {p, new long[3], 0, 1.0, 3L}));
        assertEquals(POINTER, KernelSignatures.kindOf(KernelCache.NULL));
    }

    @Test
    void opCodesAreTheEnumOrdinalsTheKernelsSwitchOn() {
        // KernelSource's unary_op, binary, reduce and load_any/store_any switch on these ordinals: reordering
        // an enum must change the kernels too
        assertEquals("[NEG, EXP, LOG, SQRT, RSQRT, ABS, TANH, SIGMOID, SILU, RELU, SQUARE, RECIPROCAL, SIGN, ROUND, ADD_SCALAR, MUL_SCALAR, "
                + "POW_SCALAR, CLAMP_MIN, CLAMP_MAX]", Arrays.toString(UnaryOp.values()));
        assertEquals("[ADD, SUB, MUL, DIV, MAX, MIN, GT]", Arrays.toString(BinaryOp.values()));
        assertEquals("[SUM, MEAN, MAX, MIN, ARGMAX]", Arrays.toString(ReduceOp.values()));
        assertEquals("[F32, F64, BF16, F16, I8, I32, U8]", Arrays.toString(DType.values()));
    }
}
