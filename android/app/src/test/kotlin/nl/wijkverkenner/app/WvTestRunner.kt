package nl.wijkverkenner.app

import org.junit.runners.model.FrameworkMethod
import org.robolectric.RobolectricTestRunner
import org.robolectric.internal.bytecode.InstrumentationConfiguration

/**
 * Robolectric with the generated bindings (`nl.wijkverkenner.ffi`) loaded once for the whole
 * JVM, as on a phone, instead of once per sandbox. The native library is loaded once per
 * process and keeps the callback tables (transport, sync listener, log sink) the first loaded
 * copy registered; with a copy per sandbox, later sandboxes' callbacks met the first copy's
 * handle maps ("Invalid handle"). The bindings use no Android class, so nothing is lost.
 */
class WvTestRunner(testClass: Class<*>) : RobolectricTestRunner(testClass) {
    override fun createClassLoaderConfig(method: FrameworkMethod): InstrumentationConfiguration =
        InstrumentationConfiguration.Builder(super.createClassLoaderConfig(method))
            .doNotAcquirePackage("nl.wijkverkenner.ffi")
            .build()
}
