/** Test support shared by every module's tests through tensor's test-jar: the {@link io.lowbit.tensor.testing.NoLeaks} leak check. */
package io.lowbit.tensor.testing;
