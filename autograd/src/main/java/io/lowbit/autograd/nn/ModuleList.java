package io.lowbit.autograd.nn;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** Children named "0", "1", ... (PyTorch's {@code nn.ModuleList}): the layers of a transformer. */
public class ModuleList<M extends Module> extends Module implements Iterable<M> {
    /** Appends {@code m} under the next index; returns it. */
    public M add(M m) {
        return registerModule(Integer.toString(children().size()), m);
    }

    /** The i-th child (after any {@link #replace}). */
    @SuppressWarnings("unchecked")
    public M get(int i) {
        if (i < 0 || i >= size()) throw new IndexOutOfBoundsException("module " + i + " of a list of " + size());
        return (M) children().get(Integer.toString(i));
    }

    /** Number of modules. */
    public int size() {
        return children().size();
    }

    @Override
    public Iterator<M> iterator() {
        List<M> all = new ArrayList<>();
        for (int i = 0; i < size(); i++) all.add(get(i));
        return all.iterator();
    }
}
