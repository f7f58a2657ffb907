package io.lowbit.tensor.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameter kinds of every kernel, read from {@link KernelSource}, so that a launch whose Java
 * arguments do not match the CUDA C signature (an int where a long long is expected, a missing layout)
 * fails with a message instead of corrupting device memory.
 */
final class KernelSignatures {
    private KernelSignatures() {}

    /** What a kernel parameter is, as far as the launch is concerned. */
    enum Kind { POINTER, INT, LONG, DOUBLE, LAYOUT }

    private static final Pattern KERNEL = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(([^)]*)\\)");

    /** Kernel name → parameter kinds, in source order. */
    static Map<String, List<Kind>> parse(String source) {
        Map<String, List<Kind>> out = new LinkedHashMap<>();
        Matcher m = KERNEL.matcher(source);
        while (m.find()) {
            List<Kind> kinds = new ArrayList<>();
            for (String p : m.group(2).split(",")) {
                String decl = p.trim().replaceAll("\\s+", " ");
                kinds.add(kind(m.group(1), decl));
            }
            if (out.put(m.group(1), List.copyOf(kinds)) != null) throw new IllegalStateException("kernel " + m.group(1) + " defined twice");
        }
        return out;
    }

    private static Kind kind(String kernel, String decl) {
        if (decl.contains("*")) return Kind.POINTER;
        if (decl.startsWith("Layout ")) return Kind.LAYOUT;
        if (decl.startsWith("long long ")) return Kind.LONG;
        if (decl.startsWith("int ")) return Kind.INT;
        if (decl.startsWith("double ")) return Kind.DOUBLE;
        throw new IllegalStateException("kernel " + kernel + ": parameter '" + decl + "' has a type launches cannot pass");
    }

    /** The kind a Java launch argument passes (see {@link KernelCache}). */
    static Kind kindOf(Object arg) {
        if (arg instanceof jcuda.Pointer || arg == KernelCache.NULL) return Kind.POINTER;
        if (arg instanceof Integer) return Kind.INT;
        if (arg instanceof Long) return Kind.LONG;
        if (arg instanceof Double) return Kind.DOUBLE;
        if (arg instanceof long[] l && l.length == 2 + 2 * Layout.MAX_DIMS) return Kind.LAYOUT;
        throw new IllegalArgumentException("unsupported kernel argument " + arg);
    }

    /** Throws IllegalArgumentException naming the kernel and parameter when {@code args} do not fit. */
    static void check(Map<String, List<Kind>> signatures, String name, Object[] args) {
        List<Kind> want = signatures.get(name);
        if (want == null) throw new IllegalArgumentException("no kernel named " + name + " in KernelSource");
        if (want.size() != args.length)
            throw new IllegalArgumentException("kernel " + name + " takes " + want.size() + " arguments " + want + ", got " + args.length);
        for (int i = 0; i < args.length; i++) {
            Kind k = kindOf(args[i]);
            if (k != want.get(i))
                throw new IllegalArgumentException("kernel " + name + " argument " + i + " must be " + want.get(i) + ", got " + k + " (" + args[i] + ")");
        }
    }
}
