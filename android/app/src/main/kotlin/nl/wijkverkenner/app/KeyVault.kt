package nl.wijkverkenner.app

import android.content.Context
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import java.io.File
import java.security.KeyStore
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/** Where the store's 32-byte key lives. The app uses the Android Keystore; tests their own. */
interface KeyVault {
    /** The key, made on first use. */
    fun key(): ByteArray

    /** Forget the key: the store can never be opened again (a revoked phone). */
    fun destroy()
}

/**
 * The store's key, generated once with SecureRandom and kept only wrapped (AES-GCM) by a key
 * that never leaves the Android Keystore. The wrapped key lies in `noBackupFilesDir`: never in
 * a backup.
 */
class KeystoreVault(private val context: Context) : KeyVault {
    private companion object {
        const val ALIAS = "wijkverkenner-store"
        const val FILE = "store.key"
    }

    override fun key(): ByteArray {
        val file = File(context.noBackupFilesDir, FILE)
        val wrapping = keystoreKey()
        if (file.exists()) {
            val bytes = file.readBytes()
            val cipher = Cipher.getInstance("AES/GCM/NoPadding")
            cipher.init(Cipher.DECRYPT_MODE, wrapping, GCMParameterSpec(128, bytes.copyOfRange(0, 12)))
            return cipher.doFinal(bytes, 12, bytes.size - 12)
        }
        val key = ByteArray(32).also { SecureRandom().nextBytes(it) }
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, wrapping)
        file.writeBytes(cipher.iv + cipher.doFinal(key))
        return key
    }

    override fun destroy() {
        File(context.noBackupFilesDir, FILE).delete()
        KeyStore.getInstance("AndroidKeyStore").apply { load(null) }.deleteEntry(ALIAS)
    }

    private fun keystoreKey(): SecretKey {
        val ks = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (ks.getEntry(ALIAS, null) as? KeyStore.SecretKeyEntry)?.let { return it.secretKey }
        val gen = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        val spec = KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
        // Usable only while the phone is unlocked (API 28+): a phone stolen locked cannot open
        // the store even with the file. The app holds the opened store while it runs, so a sync
        // in the pocket still works; after a reboot it waits for the first unlock.
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) spec.setUnlockedDeviceRequired(true)
        gen.init(spec.build())
        return gen.generateKey()
    }
}
