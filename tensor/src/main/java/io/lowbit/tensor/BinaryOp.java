package io.lowbit.tensor;

/** Elementwise two-input ops with NumPy broadcasting. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, MAX, MIN, GT;

    /** The scalar definition every kernel must agree with. */
    public double apply(double a, double b) {
        return switch (this) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case MAX -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b);
            case MIN -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.min(a, b);
            case GT -> a > b ? 1 : 0;
        };
    }
}
