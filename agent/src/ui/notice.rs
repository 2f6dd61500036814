//! What a refusal says on the agent's pages, in the page's language.
//!
//! The match is exhaustive on purpose: a new [`ApiError`] does not compile until it has its
//! words in all three languages, so no raw English reaches a Ukrainian or Russian page.

use crate::lang::Lang;
use crate::ApiError;

/// One refusal or hint shown on a page, with its stable code (tests and assistive tools read
/// `data-code`).
pub struct Notice {
    pub code: &'static str,
    pub text: String,
}

impl Notice {
    pub fn of(e: &ApiError, lang: Lang) -> Notice {
        let s = |uk: &str, en: &str, ru: &str| lang.pick(uk, en, ru).to_string();
        let text = match e {
            ApiError::WrongPassword {
                tries_left: Some(n),
            } => lang.pick(
                format!("Неправильний пароль. Залишилось спроб: {n}."),
                format!("Wrong password. Tries left: {n}."),
                format!("Неверный пароль. Осталось попыток: {n}."),
            ),
            ApiError::WrongPassword { .. } => {
                s("Неправильний пароль.", "Wrong password.", "Неверный пароль.")
            }
            ApiError::LockedOut { retry_after } => lang.pick(
                format!("Забагато неправильних паролів. Спробуйте через {retry_after} с."),
                format!("Too many wrong passwords. Try again in {retry_after} s."),
                format!("Слишком много неверных паролей. Попробуйте через {retry_after} с."),
            ),
            ApiError::OriginDenied { retry_after } => lang.pick(
                format!("Ви відхилили запит цього сайту. Спробуйте через {retry_after} с."),
                format!("You denied this site's request. Try again in {retry_after} s."),
                format!("Вы отклонили запрос этого сайта. Попробуйте через {retry_after} с."),
            ),
            ApiError::NoCertificate { looked_in } => lang.pick(
                format!("Не знайдено сертифіката для цього ключа (шукали: {looked_in}). Покладіть файл сертифіката поруч із ключем або виконайте brama-agent import-cert."),
                format!("No certificate for this key (looked in: {looked_in}). Put the certificate file beside the key or run brama-agent import-cert."),
                format!("Не найден сертификат для этого ключа (искали: {looked_in}). Положите файл сертификата рядом с ключом или выполните brama-agent import-cert."),
            ),
            ApiError::ContainerUnreadable(why) => lang.pick(
                format!("Не вдалося прочитати сховище ключа: {why}"),
                format!("The key store cannot be read: {why}"),
                format!("Не удалось прочитать хранилище ключа: {why}"),
            ),
            ApiError::ContentTooLarge { limit } => lang.pick(
                format!("Документ завеликий для підпису (більше {limit} байт)."),
                format!("The document is too large to sign (over {limit} bytes)."),
                format!("Документ слишком велик для подписи (больше {limit} байт)."),
            ),
            ApiError::PinBlocked => s(
                "PIN-код токена заблоковано. Розблокуйте його PUK-кодом або зверніться до свого надавача послуг.",
                "The token's PIN is blocked. Unblock it with the PUK or contact your provider.",
                "PIN-код токена заблокирован. Разблокируйте его PUK-кодом или обратитесь к своему поставщику услуг.",
            ),
            ApiError::TokenUnavailable(_) => s(
                "Токен недоступний: перевірте, чи його під'єднано, і спробуйте ще раз.",
                "The token is unavailable: check that it is plugged in and try again.",
                "Токен недоступен: проверьте, подключён ли он, и попробуйте ещё раз.",
            ),
            ApiError::NeedsUnlock => s(
                "Введіть пароль до ключа.",
                "Type the key's password.",
                "Введите пароль к ключу.",
            ),
            ApiError::ContainerBusy => s(
                "Ключ зараз зайнятий іншим підписанням.",
                "The key is busy with another signature.",
                "Ключ сейчас занят другой подписью.",
            ),
            ApiError::ChooseCertificate => s(
                "Пароль правильний. У цьому ключі кілька сертифікатів для підпису: оберіть один і введіть пароль ще раз.",
                "The password is right. This key has several signing certificates: choose one and type the password again.",
                "Пароль верный. В этом ключе несколько сертификатов для подписи: выберите один и введите пароль ещё раз.",
            ),
            ApiError::UnknownCertificate => s(
                "Сертифікат не знайдено на носії.",
                "The certificate was not found in the container.",
                "Сертификат не найден на носителе.",
            ),
            ApiError::NotForSigning => s(
                "Цей сертифікат не призначений для підпису (наприклад, це сертифікат шифрування).",
                "This certificate is not for signing (it may be the encryption certificate).",
                "Этот сертификат не предназначен для подписи (например, это сертификат шифрования).",
            ),
            ApiError::UnknownContainer => s(
                "Носій ключа не знайдено. Можливо, його від'єднано.",
                "The key container was not found. It may have been removed.",
                "Носитель ключа не найден. Возможно, он отключён.",
            ),
            ApiError::KeyMismatch => s(
                "Ключ не відповідає сертифікату.",
                "The key does not match the certificate.",
                "Ключ не соответствует сертификату.",
            ),
            ApiError::SigningFailed(_) => s(
                "Не вдалося створити підпис.",
                "Signing failed.",
                "Не удалось создать подпись.",
            ),
            ApiError::UnknownRequest => s(
                "Запит не знайдено. Почніть знову на сторінці сайту.",
                "The request was not found. Start again on the site's page.",
                "Запрос не найден. Начните заново на странице сайта.",
            ),
            ApiError::RequestExpired => s(
                "Час на підтвердження вичерпано. Почніть знову на сторінці сайту.",
                "The approval time ran out. Start again on the site's page.",
                "Время на подтверждение истекло. Начните заново на странице сайта.",
            ),
            ApiError::RequestSuperseded => s(
                "Цей запит замінено новішим.",
                "A newer request replaced this one.",
                "Этот запрос заменён более новым.",
            ),
            ApiError::WindowClosed => s(
                "Вікно підтвердження закрито до завершення.",
                "The approval window was closed before finishing.",
                "Окно подтверждения закрыто до завершения.",
            ),
            ApiError::TooManyRequests => s(
                "Забагато запитів чекають на вашу відповідь. Дайте відповідь на них або спробуйте пізніше.",
                "Too many requests are waiting for your answer. Answer them or try again later.",
                "Слишком много запросов ждут вашего ответа. Ответьте на них или попробуйте позже.",
            ),
            ApiError::CsrfRefused => s(
                "Підтвердження надіслано не зі сторінки агента.",
                "The approval did not come from the agent's page.",
                "Подтверждение отправлено не со страницы агента.",
            ),
            ApiError::BadHost | ApiError::ForeignUser => s(
                "Агент відхилив запит: він надійшов не від вашого браузера.",
                "The agent refused the request: it did not come from your browser.",
                "Агент отклонил запрос: он пришёл не от вашего браузера.",
            ),
            ApiError::OriginNotAllowed | ApiError::OriginRequired => s(
                "Цей сайт не може користуватися агентом підпису.",
                "This site may not use the signing agent.",
                "Этот сайт не может пользоваться агентом подписи.",
            ),
            ApiError::LoginStatementAsDocument => s(
                "Агент не підписує такий вміст як документ.",
                "The agent will not sign this content as a document.",
                "Агент не подписывает такое содержимое как документ.",
            ),
            // The detail names the field at fault (in English, as the API says it).
            ApiError::BadRequest(why) => lang.pick(
                format!("Некоректний запит ({why})."),
                format!("Invalid request ({why})."),
                format!("Некорректный запрос ({why})."),
            ),
        };
        Notice {
            code: e.code(),
            text,
        }
    }

    /// A store that keeps everything encrypted: its holder is known once it is opened.
    pub fn holder_after_unlock(lang: Lang) -> Notice {
        Notice {
            code: "holder_after_unlock",
            text: lang.pick(
                "Власника ключа буде показано після введення пароля: це сховище все тримає зашифрованим.",
                "The key's holder is shown once the password is typed: this key store keeps everything encrypted.",
                "Владелец ключа будет показан после ввода пароля: это хранилище держит всё зашифрованным.",
            ).into(),
        }
    }

    pub fn final_try(lang: Lang) -> Notice {
        Notice {
            code: "final_try",
            text: lang
                .pick(
                    "Залишилася остання спроба: ще один неправильний PIN-код заблокує токен.",
                    "One try left: one more wrong PIN blocks the token.",
                    "Осталась последняя попытка: ещё один неверный PIN-код заблокирует токен.",
                )
                .into(),
        }
    }
}
