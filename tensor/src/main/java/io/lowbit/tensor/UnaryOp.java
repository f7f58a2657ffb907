package io.lowbit.tensor;

/** Elementwise one-input ops; the *_SCALAR and CLAMP ops take one scalar argument. */
public enum UnaryOp {
    NEG, EXP, LOG, SQRT, RSQRT, ABS, TANH, SIGMOID, SILU, RELU, SQUARE, RECIPROCAL, SIGN, ROUND,
    ADD_SCALAR, MUL_SCALAR, POW_SCALAR, CLAMP_MIN, CLAMP_MAX;

    /** The scalar definition every kernel must agree with. */
    public double apply(double x, double c) {
        return switch (this) {
            case NEG -> -x;
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case ABS -> Math.abs(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case SILU -> x / (1 + Math.exp(-x));
            case RELU -> x > 0 ? x : 0;
            case SQUARE -> x * x;
            case RECIPROCAL -> 1 / x;
            case SIGN -> Math.signum(x);
            case ROUND -> Math.rint(x);
            case ADD_SCALAR -> x + c;
            case MUL_SCALAR -> x * c;
            case POW_SCALAR -> Math.pow(x, c);
            case CLAMP_MIN -> Double.isNaN(x) ? x : Math.max(x, c);
            case CLAMP_MAX -> Double.isNaN(x) ? x : Math.min(x, c);
        };
    }
}
